/** The part of `node:fs/promises` the OAuth entry uses (typed here: the published types compile without Node's). */
export interface NodeFs {
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  open(path: string, flags: 'w', mode: number): Promise<{ writeFile(data: string, encoding: 'utf8'): Promise<void>; sync(): Promise<void>; close(): Promise<void> }>;
  rename(from: string, to: string): Promise<void>;
}

/** `node:fs/promises`, loaded on first use through a variable specifier: a browser bundle of this entry never resolves it. */
export async function nodeFs(): Promise<NodeFs> {
  const name = 'node:fs/promises';
  return (await import(name)) as NodeFs;
}
