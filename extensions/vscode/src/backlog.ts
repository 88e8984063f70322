// The output a terminal keeps until VS Code opens it: bounded, the newest kept.

/** How much output a terminal nobody opened yet keeps (the server keeps its last 64 KiB as well). */
export const BACKLOG_LIMIT = 256 * 1024;

/** Adds `data` to `backlog`, whose size is `size` characters; past `limit` it keeps the newest half
 * of that (so each character is copied a bounded number of times). Returns the new size. */
export function keepBacklog(backlog: string[], size: number, data: string, limit = BACKLOG_LIMIT): number {
  backlog.push(data);
  size += data.length;
  if (size > limit) {
    const kept = backlog.join('').slice(-Math.floor(limit / 2));
    backlog.length = 0;
    backlog.push(kept);
    size = kept.length;
  }
  return size;
}
