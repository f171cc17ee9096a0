/** Zod's issues in words for the people who read them: a field left out is missing, not "received undefined". */

interface Issue {
  code: string;
  message: string;
  path: PropertyKey[];
  expected?: unknown;
  issues?: Array<{ message: string }>;
}

/**
 * An issue as `<field path>: <problem>`, the path dotted from `root` (named when the path is empty). A
 * bad key of a record is the record's problem, naming the key: its path would end in the key itself,
 * which for an empty key reads as a dangling dot.
 */
export function describeIssue(issue: Issue, root: string): string {
  const keyed = issue.code === 'invalid_key';
  const path = (keyed ? issue.path.slice(0, -1) : issue.path).map(String).join('.') || root;
  return `${path}: ${issueMessage(issue)}`;
}

function issueMessage(issue: Issue): string {
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    const expected = String(issue.expected);
    return `is missing (must be ${/^[aeiou]/.test(expected) ? 'an' : 'a'} ${expected})`;
  }
  if (issue.code === 'invalid_key') {
    const key = String(issue.path[issue.path.length - 1]);
    const reasons = (issue.issues ?? []).map((inner) => inner.message).join('; ');
    return `key ${JSON.stringify(key)} is not allowed${reasons ? ` (${reasons})` : ''}`;
  }
  return issue.message;
}
