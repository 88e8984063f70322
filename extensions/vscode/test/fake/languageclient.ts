// The parts of `vscode-languageclient/node` the modules under test use: method names, no transport.
export class NotificationType<P> {
  declare readonly params?: P;
  constructor(readonly method: string) {}
}
export class RequestType<P, R, E> {
  declare readonly params?: P;
  declare readonly result?: R;
  declare readonly error?: E;
  constructor(readonly method: string) {}
}
export class RequestType0<R, E> {
  declare readonly result?: R;
  declare readonly error?: E;
  constructor(readonly method: string) {}
}
export type LanguageClient = { sendRequest(type: unknown, params?: unknown): Promise<unknown> };
