/**
 * Event types name what happened, in the past tense (`OrderReceived`, not `ReceiveOrder`): the last word
 * of the PascalCase name must end in -ed (and not be a noun or present-tense verb that merely does, such
 * as Feed or Proceed) or be an irregular past participle (Sent, Paid, Built...), optionally after a
 * prefix such as Re-, Un-, Pre- or Over- (Resent, Prepaid, Oversold).
 */

/** Irregular past participles (and past forms used as such) event types end with. */
export const IRREGULAR_PAST_PARTICIPLES: ReadonlySet<string> = new Set(
  (
    'arisen awoken been beaten become begun bent bet bid bitten bled blown born borne bound broken bred ' +
    'brought broadcast built burnt burst bought cast caught chosen come cost crept cut dealt done drawn ' +
    'dreamt driven drunk dug dwelt eaten fallen fed felt fought found fled flown forbidden forecast ' +
    'forgiven forgotten forsaken frozen given gone got gotten ground grown hung had heard hidden hit held ' +
    'hurt kept knelt known laid led leant leapt learnt left lent let lain lit lost made meant met paid ' +
    'proven put quit read rid ridden rung risen run said seen sought sold sent set sewn shaken shed shone ' +
    'shot shown shrunk shut sung sunk sat slain slept slid slung slit spoken sped spent spilt spun split ' +
    'spread sprung stood stolen stuck stung stunk struck strung sworn swept swum swung taken taught torn ' +
    'told thought thrown thrust trodden understood upset woken worn woven wept won wound withdrawn written'
  ).split(' '),
);

/** Words ending in -ed that are not past tense. */
const NOT_PAST = new Set(
  (
    'bed bleed breed creed deed embed exceed feed greed heed need proceed red reed seed shed shred sled ' +
    'speed steed succeed wed weed'
  ).split(' '),
);

/** Prefixes that keep a past participle past (`Resent`, `Unpaid`, `Overdrawn`, `Prebuilt`). */
const PREFIXES = ['re', 'un', 'pre', 'mis', 'over', 'under', 'out', 'up', 'with', 'fore', 'co', 'de'];

/**
 * Why `eventType` is not a past-tense name, or undefined when it is. The last word is the last run of
 * lower-case letters with the capital before it; a name ending in digits or capitals has none.
 */
export function pastTenseNameProblem(eventType: string): string | undefined {
  const word = /([A-Z]?[a-z]+)$/.exec(eventType)?.[1];
  const rule =
    'its last word must be in the past tense: end in -ed (OrderReceived) or be an irregular past participle (PaymentSent, InvoicePaid)';
  if (!word) return `"${eventType}" names no event in the past tense: ${rule}`;
  if (isPastParticiple(word.toLowerCase())) return undefined;
  return `"${eventType}" is not named in the past tense ("${word}"): ${rule}; event types name what happened`;
}

function isPastParticiple(word: string): boolean {
  const bare = (candidate: string) =>
    IRREGULAR_PAST_PARTICIPLES.has(candidate) ||
    (candidate.endsWith('ed') && candidate.length > 3 && !NOT_PAST.has(candidate));
  if (NOT_PAST.has(word)) return false;
  return (
    bare(word) ||
    PREFIXES.some(
      (prefix) =>
        word.startsWith(prefix) &&
        word.length > prefix.length + 2 &&
        IRREGULAR_PAST_PARTICIPLES.has(word.slice(prefix.length)),
    )
  );
}
