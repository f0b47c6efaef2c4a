/**
 * The mapping expression language of SPEC section 4 (`expr:` and `filter:`): arithmetic on exact
 * decimals, comparisons, and/or/not, & for text, and a fixed set of functions. It is parsed and
 * interpreted here; nothing the user writes is ever executed as code or reaches a JS object.
 *
 *   const node = parseExpression('LT_WEEKS * 7', { file, line, column }); // ConfigError if malformed
 *   columnsOf(node);                                 // ['LT_WEEKS'], to check against the header
 *   const f = compileExpression(node, (name) => header.indexOf(name));
 *   f(cells);                                        // ExprValue, or throws ExprRuntimeError
 */

import { ConfigError } from '../../core/errors.js';
import { ExprSyntaxError } from './lexer.js';
import { parse, type ExprNode } from './parser.js';

export type { ExprNode, FunctionName, CompareOp, ArithOp } from './parser.js';
export { FUNCTIONS, suggestFunction } from './parser.js';
export {
  ExprRuntimeError,
  compileExpression,
  compileCondition,
  exprValueText,
  showValue,
  type ExprValue,
  type CompiledExpr,
  type CompiledCondition,
} from './evaluate.js';

/** Where the expression text starts in the mapping file; line and column are 1-based. */
export interface ExprSource {
  file: string;
  line: number;
  column: number;
}

/**
 * Parses an expression. A mistake is a ConfigError (code 'mapping.expr') located at the offending
 * token's absolute line and column in the mapping file, with a hint.
 */
export function parseExpression(text: string, where: ExprSource): ExprNode {
  try {
    return parse(text, { line: where.line, column: where.column });
  } catch (e) {
    if (!(e instanceof ExprSyntaxError)) throw e;
    const line = where.line + e.pos.line;
    // block scalars keep every line at the first line's indentation (see Parser.abs)
    const column = where.column + e.pos.col;
    return throwConfig(`${where.file}:${line}:${column} expression: ${e.message}`, where.file, line, column, e.hint, e);
  }
}

function throwConfig(message: string, file: string, line: number, column: number, hint: string, cause: unknown): never {
  throw new ConfigError(message, { code: 'mapping.expr', location: { file, line, column }, hint, cause });
}

/** The distinct column names an expression reads, in order of first mention. */
export function columnsOf(node: ExprNode): string[] {
  const seen = new Set<string>();
  const walk = (n: ExprNode): void => {
    switch (n.kind) {
      case 'literal':
        return;
      case 'column':
        seen.add(n.name);
        return;
      case 'negate':
      case 'not':
        walk(n.operand);
        return;
      case 'logical':
      case 'compare':
      case 'concat':
      case 'arith':
        walk(n.left);
        walk(n.right);
        return;
      case 'call':
        for (const a of n.args) walk(a);
        return;
    }
  };
  walk(node);
  return [...seen];
}
