// `@path` mentions in the prompt: finding the one being typed and ranking the files that complete it.
// Pure, shared by the webview and the extension, and unit tested under Node.
/** An `@path` being typed: where its `@` is and what follows it, when the caret ends one. */
export function mentionAt(text: string, caret: number): { start: number; prefix: string } | undefined {
  const before = text.slice(0, caret);
  const match = /(^|\s)@([^\s@]*)$/.exec(before);
  if (!match) return undefined;
  return { start: caret - match[2].length - 1, prefix: match[2] };
}

/**
 * The files that complete `prefix`, best first: a file name that starts with it, then a path that does,
 * then a path that contains it (ignoring case); shorter paths first within each.
 */
export function rankMentions(files: string[], prefix: string, limit = 12): string[] {
  const wanted = prefix.toLowerCase();
  const scored: Array<[number, string]> = [];
  for (const file of files) {
    const lower = file.toLowerCase();
    const name = lower.slice(lower.lastIndexOf('/') + 1);
    const score = name.startsWith(wanted) ? 0 : lower.startsWith(wanted) ? 1 : lower.includes(wanted) ? 2 : -1;
    if (score >= 0) scored.push([score, file]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].length - b[1].length || a[1].localeCompare(b[1]));
  return scored.slice(0, limit).map(([, file]) => file);
}
