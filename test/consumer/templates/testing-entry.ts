/// <reference types="node" />
// Compiled only when the package ships `xiexus-kling/testing`: the subpath must resolve to its own
// declarations in every cell (node10 through typesVersions). A test helper runs under Node, so
// @types/node is referenced here and nowhere else: the main entry must not need it.
import * as testing from "xiexus-kling/testing";

export const testingExports: readonly string[] = Object.keys(testing);
