// A "mistake" that is not one: @ts-expect-error on a line that compiles must fail the cell (TS2578).
import { createKlingClient } from "xiexus-kling";

// @ts-expect-error -- this line is fine, so the directive is unused
export const client = createKlingClient({ apiKey: "sk-example" });
