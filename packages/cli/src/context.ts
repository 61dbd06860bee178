import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '@flowers/core';
import { nearestName } from './options.ts';

/**
 * pnpm runs scripts from the repository root; INIT_CWD is where the user typed the command, so
 * relative paths resolve against that.
 */
export function callerCwd(): string {
  return process.env.INIT_CWD ?? process.cwd();
}

export function resolvePath(p: string): string {
  return path.resolve(callerCwd(), p);
}

/** A kebab-case or snake_case key in camelCase (Keras users write snake_case). */
const camelCase = (key: string): string => key.replace(/[-_]([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/**
 * Reads `--config FILE`: a JSON object whose keys are the command's long options (camel, kebab
 * or snake case). An unknown key is an error, so a misspelt one is never silently ignored.
 */
export async function readConfigFile(file: string, command: Command): Promise<Record<string, unknown>> {
  const full = resolvePath(file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(full, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code ? `cannot read config ${full}: ${code}` : `config ${full} is not valid JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UserError(`config ${full} must hold a JSON object`);
  const known = command.options.map((option) => option.attributeName());
  return Object.fromEntries(
    Object.entries(parsed).map(([key, value]) => {
      const name = camelCase(key);
      if (!known.includes(name)) {
        // A key that spells out an option's description ('learning-rate' for --lr) means that option.
        const words = key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[-_]/g, ' ').toLowerCase();
        const described = command.options.find((option) => option.description.toLowerCase() === words)?.attributeName();
        const suggestion = described ?? nearestName(name, known);
        throw new UserError(`unknown key '${key}' in config ${full}: did you mean '${suggestion}'? (keys are the long options of '${command.name()}')`);
      }
      return [name, value];
    }),
  );
}
