/** Zod's issues in words for the people who read them: a field left out is missing, not "received undefined". */

interface Issue {
  code: string;
  message: string;
  path: PropertyKey[];
  expected?: unknown;
  issues?: Array<{ message: string }>;
}

/**
 * An issue as `<field path>: <problem>`, `root` when the path is empty. A
 * bad key of a record is the record's problem, naming the key: its path would end in the key itself,
 * which for an empty key reads as a dangling dot.
 */
export function describeIssue(issue: Issue, root: string): string {
  const keyed = issue.code === 'invalid_key';
  const path = fieldPath(keyed ? issue.path.slice(0, -1) : issue.path) || root;
  return `${path}: ${issueMessage(issue)}`;
}

/**
 * A path as dotted names and indices (`datasets.0.topic`); a key that would not read as one segment
 * (empty, spaces, dots: a record's keys are the config's own) in quotes (`aliases[" "]`).
 */
function fieldPath(path: PropertyKey[]): string {
  return path
    .map((segment, index) => {
      const name = String(segment);
      if (typeof segment === 'number' || /^[A-Za-z_$][\w$-]*$/.test(name))
        return index === 0 ? name : `.${name}`;
      return `[${JSON.stringify(name)}]`;
    })
    .join('');
}

/** The problem an issue names, without its path. */
export function issueMessage(issue: Issue): string {
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
