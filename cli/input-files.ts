import { readFile } from 'node:fs/promises';
import type { ChangeSpec } from '../functions/core/change/spec';
import type { Fleet } from '../functions/core/fleet/fleet';
import type { ServicesFile } from '../functions/core/fleet/services';
import { InputError, parseChangeSpec, parseFleet, parseServices } from '../functions/core/input/files';

export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const found =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : `an error (${code})`;
    throw new InputError(path, [{ path: '', expected: 'a readable file', found }]);
  }
}

export const loadFleet = async (path: string): Promise<Fleet> => parseFleet(await readText(path), path);
export const loadServices = async (path: string): Promise<ServicesFile> =>
  parseServices(await readText(path), path);
export const loadChangeSpec = async (path: string): Promise<ChangeSpec> =>
  parseChangeSpec(await readText(path), path);
