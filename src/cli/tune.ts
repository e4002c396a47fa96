/** Imported first by the CLI entry point: V8 tuning before any model code runs (src/util/v8-tuning.ts). */
import { tuneV8 } from '../util/v8-tuning.js';

tuneV8();
