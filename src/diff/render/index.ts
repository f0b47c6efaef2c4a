import type { DiffFormat } from '../types.js';
import type { Renderer } from './common.js';
import { renderCsv } from './csv.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderText } from './text.js';

export function rendererFor(format: DiffFormat): Renderer {
  switch (format) {
    case 'text':
      return renderText;
    case 'json':
      return renderJson;
    case 'csv':
      return renderCsv;
    case 'html':
      return renderHtml;
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
}

export type { Renderer, ReportWriter } from './common.js';
export { renderCsv, renderHtml, renderJson, renderText };
