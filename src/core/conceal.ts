/**
 * What keyward's objects show of themselves when printed: `console.log(keys)`, `util.inspect(store)`,
 * `String(store)` and `JSON.stringify(store)` give a short summary (class name and harmless
 * settings), never the records, hashes, peppers, connection strings or clients held inside.
 */

/** Node's `util.inspect.custom` symbol, read without importing `node:util`. */
export const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** Values a summary may show: plain settings only. */
export type SummaryValue = string | number | boolean | null | readonly string[];

/**
 * Makes instances of `cls` print as `Name { field: value, … }` built from `summary`, in
 * `util.inspect` / `console.log`, `String()` and `JSON.stringify` alike.
 *
 * @example
 * class Vault { private secret = "x"; size = 1; }
 * concealInternals(Vault, (v) => ({ size: v.size }));
 * console.log(new Vault()); // Vault { size: 1 }
 */
export function concealInternals<T extends object>(cls: abstract new (...args: never[]) => T, summary: (instance: T) => Record<string, SummaryValue>): void {
  const name = cls.name;
  const render = (instance: T): string => {
    const fields = Object.entries(summary(instance)).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
    return fields.length ? `${name} { ${fields.join(", ")} }` : `${name} {}`;
  };
  Object.defineProperties(cls.prototype, {
    [INSPECT]: {
      value(this: T) {
        return render(this);
      },
      configurable: true,
      writable: true,
    },
    toString: {
      value(this: T) {
        return render(this);
      },
      configurable: true,
      writable: true,
    },
    toJSON: {
      value(this: T) {
        return { type: name, ...summary(this) };
      },
      configurable: true,
      writable: true,
    },
  });
}
