/**
 * Serves the admin page's markup, style and script without a token: they hold no data. Mounted before the
 * admin routes, whose token check covers everything else under `/admin/`.
 */
import { Hono, type Context } from 'hono';
import { adminPage } from '../admin-page.js';
import type { AppEnv } from '../app-env.js';

/**
 * Only this origin's script and style, no inline code, no framing: vendor text that slipped into markup
 * could still not run, and another site cannot overlay the replay button.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const serve = (body: string, contentType: string) => (context: Context<AppEnv>) =>
  context.body(body, 200, { ...SECURITY_HEADERS, 'content-type': contentType });

export function adminPageRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const page = serve(adminPage.html, 'text/html; charset=utf-8');
  routes.get('/admin', page);
  routes.get('/admin/', page);
  routes.get('/admin/page.js', serve(adminPage.script, 'text/javascript; charset=utf-8'));
  routes.get('/admin/page.css', serve(adminPage.style, 'text/css; charset=utf-8'));
  return routes;
}
