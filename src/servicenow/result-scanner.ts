/**
 * Splits a Table API body (`{"result":[{...},{...}],...}`) into the JSON text of each row as the
 * text arrives, so a 10 MB page is never held as one buffer plus one string besides its rows, and
 * each row keeps the exact text the instance sent (written out as is, not re-serialised).
 *
 * It only finds where values begin and end (strings, escapes, nesting); JSON.parse still does
 * the parsing, row by row. Everything outside the `result` array (an `error` object, `status`)
 * is kept as a small "shell" document, `{"result":[],...}`, to be parsed at the end, so an error
 * body is checked exactly as a whole-body parse would check it.
 *
 * Why not a streaming JSON library: the ones on npm tokenise in JavaScript and were several
 * times slower than this scan plus the native JSON.parse (see BENCHMARKS.md).
 */
export class ResultScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private sawRoot = false;
  private closed = false;

  /** At depth 1 the next string is a key. */
  private expectKey = false;
  /** The key being read, when it runs past the end of a chunk. */
  private keyPart = '';
  private inKey = false;
  private lastKey = '';

  /** Inside the `result` array (its elements are at depth 2). */
  private inResult = false;
  /** Inside one element; `elementPart` holds its text from earlier chunks. */
  private inElement = false;
  private elementPart = '';

  private shell = '';

  /** Feeds the next piece of text; returns the JSON text of each row it completed. */
  push(text: string): string[] {
    const rows: string[] = [];
    const n = text.length;
    let keyStart = this.inKey ? 0 : -1;
    let elementStart = this.inElement ? 0 : -1;
    let shellStart = this.inResult ? -1 : 0;
    for (let i = 0; i < n; i++) {
      if (this.inString) {
        // Jump to the closing quote natively: most of a body is string content.
        const end = this.stringEnd(text, i);
        if (end === -1) break;
        i = end;
        this.inString = false;
        if (this.inKey) {
          this.lastKey = this.keyPart + text.slice(keyStart, i);
          this.keyPart = '';
          this.inKey = false;
          keyStart = -1;
        }
        continue;
      }
      const c = text.charCodeAt(i);
      if (this.closed && c > 32) throw new ScanError('text after the end of the JSON body');
      switch (c) {
        case 34: // "
          this.inString = true;
          if (this.depth === 1 && this.expectKey) {
            this.inKey = true;
            this.expectKey = false;
            keyStart = i + 1;
          }
          break;
        case 123: // {
        case 91: // [
          if (this.depth === 0) {
            if (c !== 123) throw new ScanError('the body is not a JSON object');
            this.sawRoot = true;
            this.expectKey = true;
          } else if (this.depth === 1 && c === 91 && this.lastKey === 'result') {
            // Keep `"result":[` in the shell; the elements are cut out of it.
            this.inResult = true;
            this.shell += text.slice(shellStart, i + 1);
            shellStart = -1;
          } else if (this.depth === 2 && this.inResult) {
            if (c !== 123) throw new ScanError('a result element is not an object');
            this.inElement = true;
            elementStart = i;
          }
          this.depth += 1;
          break;
        case 125: // }
        case 93: // ]
          this.depth -= 1;
          if (this.depth < 0) throw new ScanError('unbalanced brackets');
          if (this.inElement && this.depth === 2) {
            const piece = text.slice(elementStart, i + 1);
            rows.push(this.elementPart === '' ? piece : this.elementPart + piece);
            this.elementPart = '';
            this.inElement = false;
            elementStart = -1;
          } else if (this.inResult && this.depth === 1) {
            // The result array closed: the shell resumes with its `]`.
            this.inResult = false;
            shellStart = i;
          } else if (this.depth === 0) {
            this.closed = true;
          }
          break;
        case 44: // ,
          if (this.depth === 1) this.expectKey = true;
          break;
        default:
          if (this.inResult && this.depth === 2 && c > 32) throw new ScanError('a result element is not an object');
      }
    }
    if (this.inElement) this.elementPart += text.slice(elementStart);
    if (this.inKey) this.keyPart += text.slice(keyStart);
    if (shellStart >= 0) this.shell += text.slice(shellStart);
    return rows;
  }

  /**
   * The index of the quote that closes the string being read, from `i` on; -1 when the string
   * runs past the end of the text (then `escaped` says whether the text ended inside an escape).
   */
  private stringEnd(text: string, i: number): number {
    if (this.escaped) {
      // The last chunk ended with a backslash: the first character here is escaped.
      this.escaped = false;
      i += 1;
    }
    for (;;) {
      const q = text.indexOf('"', i);
      const stop = q === -1 ? text.length : q;
      let k = stop - 1;
      while (k >= i && text.charCodeAt(k) === 92 /* \ */) k -= 1;
      const odd = (stop - 1 - k) % 2 === 1;
      if (q === -1) {
        this.escaped = odd;
        return -1;
      }
      if (!odd) return q;
      i = q + 1;
    }
  }

  /** True once the top-level object has closed: anything less is a cut-off body. */
  get complete(): boolean {
    return this.sawRoot && this.closed && !this.inString;
  }

  /** The body without the rows' text: `{"result":[],...}`. */
  get shellText(): string {
    return this.shell;
  }
}

export class ScanError extends Error {
  override readonly name = 'ScanError';
}
