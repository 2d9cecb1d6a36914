/**
 * Declarative filters (the grammar is in filter/parse.ts), one module per job:
 *   filter/parse.ts         text -> FilterAst (FILTER_SYNTAX errors name the column)
 *   filter/field-layout.ts  where each byte-level field lies: drives the next three
 *   filter/compile.ts       FilterAst -> one JavaScript function over the packet's bytes (pushdown)
 *   filter/interpret.ts     FilterAst -> closures: the reference, and the form for record items
 *   filter/raw-reject.ts    FilterAst -> "surely rejected" over a record's bytes before decoding
 *   filter/bpf.ts           FilterAst -> BPF for the kernel (live capture)
 */
export { parseFilter, type CmpOp, type FilterAst, type Literal } from './filter/parse.ts';
export { compileFilter } from './filter/compile.ts';
export { interpretFilter, type PacketPredicate } from './filter/interpret.ts';
export { compileRawReject, type RawReject } from './filter/raw-reject.ts';
export { toBpf } from './filter/bpf.ts';
