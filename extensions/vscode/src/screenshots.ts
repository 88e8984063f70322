// Page checks' screenshots as the chat panel draws them: the server keeps each as a file in OpenBolt's
// data directory; the panel gets it as a `data:` URL (its content policy allows those, and the file
// lies outside every folder a webview may read).
import { promises as fs } from 'node:fs';
import type { PageVerdict, Screenshot, TranscriptMessage } from './lsp_ext';
import type { ShownVerdict } from './chat/messages';

/** The largest screenshot drawn in the panel; a bigger file is shown by its link alone. */
export const THUMBNAIL_LIMIT = 4 << 20;

const MEDIA_TYPES = new Set(['image/jpeg', 'image/png']);

/** A screenshot's file as a `data:` URL; `undefined` when it is gone, too big or not an image. */
export async function thumbnail(screenshot: Screenshot | undefined): Promise<string | undefined> {
  if (!screenshot || !MEDIA_TYPES.has(screenshot.mediaType)) return undefined;
  try {
    const stat = await fs.stat(screenshot.path);
    if (!stat.isFile() || stat.size > THUMBNAIL_LIMIT) return undefined;
    const bytes = await fs.readFile(screenshot.path);
    return `data:${screenshot.mediaType};base64,${bytes.toString('base64')}`;
  } catch {
    return undefined;
  }
}

/** A verdict with its screenshot ready to draw. */
export async function shown<T extends PageVerdict>(verdict: T): Promise<T & { thumbnail?: string }> {
  const drawn = await thumbnail(verdict.screenshot);
  return drawn ? { ...verdict, thumbnail: drawn } : verdict;
}

/** A loaded session's messages with their verdicts' screenshots ready to draw. */
export async function withThumbnails(
  messages: TranscriptMessage[],
): Promise<(Omit<TranscriptMessage, 'pages'> & { pages?: ShownVerdict[] })[]> {
  return Promise.all(
    messages.map(async (message) => (message.pages?.length ? { ...message, pages: await Promise.all(message.pages.map(shown)) } : message)),
  );
}

/** Whether a path the panel asks to open is a screenshot (the panel only ever names those). */
export function isScreenshotPath(file: string): boolean {
  return /\.(jpe?g|png)$/i.test(file) && file.startsWith('/');
}
