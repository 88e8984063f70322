// Which of the editor's errors a turn brought (pure, so the unit tests run it without VS Code).

export interface ReportedFile {
  filePath: string;
  diagnostics: { line: number; message: string; source?: string }[];
}

/** The errors of files that are not in `before`, by file (pure; unit tested). */
export function newErrors(
  files: string[],
  current: (filePath: string) => { line: number; message: string; source?: string; key: string }[],
  before: Map<string, Set<string>>,
  skip: (filePath: string) => boolean,
): ReportedFile[] {
  const reported: ReportedFile[] = [];
  for (const filePath of files) {
    if (skip(filePath)) continue;
    const known = before.get(filePath) ?? new Set<string>();
    const fresh = current(filePath).filter((diagnostic) => !known.has(diagnostic.key));
    if (fresh.length > 0) {
      reported.push({
        filePath,
        diagnostics: fresh.map(({ line, message, source }) => ({ line, message, source })),
      });
    }
  }
  return reported;
}

