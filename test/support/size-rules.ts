/**
 * Measures the size of TypeScript sources with the TypeScript compiler's parser: the lines of a
 * file, and the lines of every function in it (declarations, methods, constructors, accessors,
 * arrow functions, function expressions), for the size rules of test/unit/size-rules.test.ts.
 */
import ts from 'typescript';

/** One function and its size. */
export interface FunctionSize {
  /** 1-based line of the function's first token (after its doc comment). */
  line: number;
  /** `name`, `Class.method`, `Class.constructor`, `Class.get name`, or `<anonymous in outer>`. */
  name: string;
  /** Lines from the first token to the closing brace, both included. */
  lines: number;
}

/** The size of one source file. */
export interface FileSize {
  lines: number;
  functions: FunctionSize[];
}

/** Lines of `text` as an editor numbers them (a final newline does not start another line). */
export function lineCount(text: string): number {
  if (text === '') return 0;
  const breaks = text.split('\n').length - 1;
  return text.endsWith('\n') ? breaks : breaks + 1;
}

/** Measures the file `fileName` whose text is `text`. */
export function measureSource(fileName: string, text: string): FileSize {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const functions: FunctionSize[] = [];
  const lineOf = (pos: number): number => source.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (node: ts.Node): void => {
    if (isMeasuredFunction(node)) {
      const line = lineOf(node.getStart(source));
      functions.push({ line, name: functionName(node, source), lines: lineOf(node.getEnd()) - line + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { lines: lineCount(text), functions };
}

type MeasuredFunction =
  | ts.FunctionDeclaration
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration
  | ts.ArrowFunction
  | ts.FunctionExpression;

/** A function with a body (an overload signature or an abstract method has none). */
function isMeasuredFunction(node: ts.Node): node is MeasuredFunction {
  return (
    (ts.isFunctionDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isSetAccessorDeclaration(node) ||
      ts.isArrowFunction(node) ||
      ts.isFunctionExpression(node)) &&
    node.body !== undefined
  );
}

/** A readable, stable name: what a reviewer would search the file for. */
function functionName(node: MeasuredFunction, source: ts.SourceFile): string {
  const own = ownName(node, source);
  if (own === undefined) return `<anonymous in ${outerName(node, source)}>`;
  const owner = node.parent;
  const isMember = ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node);
  if (isMember && (ts.isClassDeclaration(owner) || ts.isClassExpression(owner)) && owner.name !== undefined) {
    return `${owner.name.text}.${own}`;
  }
  return own;
}

/** The function's own name, or the name it is bound to (`const f = () => ...`, `{ f: () => ... }`). */
function ownName(node: MeasuredFunction, source: ts.SourceFile): string | undefined {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const prefix = ts.isGetAccessorDeclaration(node) ? 'get ' : ts.isSetAccessorDeclaration(node) ? 'set ' : '';
  if (node.name !== undefined) return prefix + node.name.getText(source);
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && parent.initializer === node) {
    return parent.name.getText(source);
  }
  return undefined;
}

/** The name of the nearest enclosing named function, or `the module`. */
function outerName(node: ts.Node, source: ts.SourceFile): string {
  for (let up = node.parent; up !== undefined; up = up.parent) {
    if (isMeasuredFunction(up)) {
      const own = ownName(up, source);
      if (own !== undefined) return functionName(up, source);
    }
  }
  return 'the module';
}
