// The parts of the `vscode` API the modules under test use, recording what they are asked.
type Listener<T> = (value: T) => void;

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((other) => other !== listener)) };
  };
  fire(value: T): void {
    for (const listener of this.listeners) listener(value);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class ThemeIcon {
  constructor(readonly id: string) {}
}

export interface Pseudoterminal {
  onDidWrite: (listener: Listener<string>) => unknown;
  onDidChangeName?: (listener: Listener<string>) => unknown;
  open(dimensions: { columns: number; rows: number } | undefined): void;
  close(): void;
}

/** A terminal as VS Code shows it: its name (changed only once open, as VS Code does) and what it shows. */
export class FakeTerminal {
  name: string;
  text = '';
  private opened = false;
  constructor(options: { name: string; pty: Pseudoterminal }, private readonly pty: Pseudoterminal) {
    this.name = options.name;
    pty.onDidWrite((data) => (this.text += data));
    pty.onDidChangeName?.((name) => {
      if (this.opened) this.name = name;
    });
  }
  /** What VS Code does when the terminal is first shown. */
  open(): void {
    this.opened = true;
    this.pty.open({ columns: 80, rows: 24 });
  }
  show(): void {}
  dispose(): void {}
}

export const created: FakeTerminal[] = [];

export const window = {
  createTerminal(options: { name: string; pty: Pseudoterminal }): FakeTerminal {
    const terminal = new FakeTerminal(options, options.pty);
    created.push(terminal);
    return terminal;
  },
};
