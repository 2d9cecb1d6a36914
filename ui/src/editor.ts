/**
 * <is-editor>: a CodeMirror 6 editor in TypeScript mode for query files. `value` reads and
 * writes the text; `markLine(n)` underlines line n (1-based) as the error and scrolls to it.
 * Tab inserts indentation only after Ctrl-M / Escape-less use: Escape then Tab leaves the editor,
 * so the form stays keyboard-usable (CodeMirror's documented tab-trap escape).
 */
import { EditorView, basicSetup } from 'codemirror';
import { javascript } from '@codemirror/lang-javascript';
import { indentWithTab } from '@codemirror/commands';
import { Compartment, EditorState, StateEffect, StateField, RangeSetBuilder } from '@codemirror/state';
import { Decoration, type DecorationSet, keymap } from '@codemirror/view';

const setErrorLine = StateEffect.define<number | null>();

const errorLineField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(setErrorLine)) continue;
      if (e.value === null || e.value < 1 || e.value > tr.state.doc.lines) deco = Decoration.none;
      else {
        const line = tr.state.doc.line(e.value);
        const b = new RangeSetBuilder<Decoration>();
        b.add(line.from, line.from, Decoration.line({ class: 'cm-error-line' }));
        deco = b.finish();
      }
    }
    if (tr.docChanged) deco = Decoration.none;
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

export class IsEditor extends HTMLElement {
  private view: EditorView | null = null;
  private pending = '';
  private readonly editable = new Compartment();

  get value(): string {
    return this.view ? this.view.state.doc.toString() : this.pending;
  }

  set value(text: string) {
    if (!this.view) {
      this.pending = text;
      return;
    }
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
  }

  markLine(line: number | null): void {
    if (!this.view) return;
    const effects: StateEffect<unknown>[] = [setErrorLine.of(line)];
    if (line !== null && line >= 1 && line <= this.view.state.doc.lines) {
      effects.push(EditorView.scrollIntoView(this.view.state.doc.line(line).from, { y: 'center' }));
    }
    this.view.dispatch({ effects });
  }

  connectedCallback(): void {
    if (this.view) return;
    // A value set before this element was defined (the module is loaded on demand) sits on the
    // instance and hides the accessor: take it over.
    if (Object.hasOwn(this, 'value')) {
      const text = (this as unknown as { value: string }).value;
      delete (this as unknown as { value?: string }).value;
      this.pending = text;
    }
    this.view = new EditorView({
      parent: this,
      state: EditorState.create({
        doc: this.pending,
        extensions: [
          basicSetup,
          keymap.of([indentWithTab]),
          javascript({ typescript: true }),
          errorLineField,
          this.editable.of(EditorView.editable.of(true)),
          EditorView.contentAttributes.of({ 'aria-label': 'Query file (TypeScript)' }),
          EditorView.theme({ '&': { fontSize: '13px' }, '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' } }),
        ],
      }),
    });
  }
}

customElements.define('is-editor', IsEditor);
