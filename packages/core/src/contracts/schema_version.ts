import { UserError } from '../errors.ts';

/** The schema metadata key (Arrow) or JSON key that records a file's schema version. */
export const SCHEMA_VERSION_KEY = 'schema_version';

/**
 * Version 1 of a contract is the layout from before versions were recorded, so its files carry no
 * version key and keep their bytes; later versions record theirs.
 */
export function schemaVersionEntries(version: number): Array<[string, string]> {
  return version === 1 ? [] : [[SCHEMA_VERSION_KEY, String(version)]];
}

/** Fails in one line naming the file and both versions unless `recorded` (absent: 1) is `expected`. */
export function checkSchemaVersion(file: string, contract: string, recorded: string | number | undefined, expected: number): void {
  const found = recorded === undefined ? 1 : Number(recorded);
  if (found !== expected) {
    throw new UserError(`${file}: ${contract} schema version ${recorded ?? 1}, but this code reads version ${expected}: rebuild it with this code`);
  }
}
