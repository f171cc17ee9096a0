/** Zod's issues in words for the people who read them: a field left out is missing, not "received undefined". */

export function issueMessage(issue: { code: string; message: string; expected?: unknown }): string {
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    const expected = String(issue.expected);
    return `is missing (must be ${/^[aeiou]/.test(expected) ? 'an' : 'a'} ${expected})`;
  }
  return issue.message;
}
