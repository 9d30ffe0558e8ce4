import { resolve } from "node:path";
import { z } from "zod";
import { IMAGE_VERSION } from "../update/bundle.ts";
import { packageVersion } from "./version.ts";

/** `npm run build`'s arguments; `out` unless `--out` says another. */
export const buildOptionsSchema = (out: string) =>
  z.array(z.string()).transform((args, ctx) => {
    const parsed = {
      testHooks: false,
      stockKernel: false,
      keys: null as string | null,
      out,
      version: packageVersion(),
    };
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      const value = args[i + 1];
      const hasValue = value !== undefined && !value.startsWith("--");
      if (arg === "--test-hooks") parsed.testHooks = true;
      else if (arg === "--stock-kernel") parsed.stockKernel = true;
      else if (arg === "--out" && hasValue) parsed.out = resolve(args[++i] ?? "");
      else if (arg === "--keys" && hasValue) parsed.keys = resolve(args[++i] ?? "");
      else if (arg === "--version" && hasValue) {
        if (IMAGE_VERSION.test(value)) parsed.version = value;
        else ctx.addIssue({ code: "custom", message: `--version ${value}: a version is X.Y.Z` });
        i++;
      } else
        ctx.addIssue({
          code: "custom",
          message: `unknown or incomplete argument '${arg}' (expected --test-hooks, --stock-kernel, --keys DIR, --out DIR or --version X.Y.Z)`,
        });
    }
    return parsed;
  });
