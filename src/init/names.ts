/**
 * Column names as ERP exports write them, and the model's fields they usually mean. Names are
 * compared after normalising case, separators, camelCase, units in brackets and umlauts, so
 * `Artikel-Nr.`, `ARTIKELNR` and `artikel_nr` are one name.
 */

/** A name as tokens: `Air temperature [K]` -> [air, temperature]; `ProductCode` -> [product, code]. */
export function nameTokens(name: string): string[] {
  const s = name
    .replace(/\[[^\]]*\]|\([^)]*\)/g, ' ')
    .replace(/([a-z\d])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .replace(/ä/g, 'ae')
    .replace(/ö/g, 'oe')
    .replace(/ü/g, 'ue')
    .replace(/ß/g, 'ss')
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
  return s === '' ? [] : s.split(' ');
}

export function compactName(name: string): string {
  return nameTokens(name).join('');
}

/**
 * Synonyms per field, in order of how sure a match makes us. A leading `~` marks a weak synonym
 * (a generic word such as `name` or `date` that often means the field but often does not).
 */
export const FIELD_SYNONYMS: Record<string, readonly string[]> = {
  item_code: [
    'item_code', 'itemno', 'item_no', 'item number', 'itemcode', 'item_id', 'partno', 'part_no', 'part number', 'pn', 'matnr',
    'material number', 'materialnummer', 'materialnr', 'artnr', 'artikelnr', 'artikelnummer', 'artikel', 'article', 'sku',
    'item_code', 'product code', 'productcode', 'default_code', 'internal reference', 'sachnummer', 'teilenummer', 'teilenr',
    'nsn', '~item', '~material', '~product', '~part', '~code',
  ],
  description: [
    'description', 'desc', 'descr', 'bezeichnung', 'beschreibung', 'kurztext', 'maktx', 'item_name', 'item description',
    'product name', 'artikelbezeichnung', 'materialkurztext', 'langtext', '~text', '~name', '~title',
  ],
  item_type: ['item_type', 'type', 'typ', 'item type', 'product type', 'producttype', 'artikelart', 'materialart', 'mtart', 'teileart', '~art', '~kind', '~class'],
  uom: [
    'uom', 'unit of measure', 'unitofmeasure', 'unit', 'units', 'me', 'einheit', 'mengeneinheit', 'meins', 'basismengeneinheit',
    'stock_uom', 'uom_id', 'base unit', 'ui', 'unit of issue', 'bme',
  ],
  category: ['category', 'grp', 'group', 'gruppe', 'warengruppe', 'artikelgruppe', 'materialgruppe', 'matkl', 'item_group', 'productfamily', 'product family', 'categ_id', 'kategorie', '~family', '~class'],
  standard_cost: [
    'standard_cost', 'stdcost', 'std cost', 'standard cost', 'standard price', 'standard_price', 'stprs', 'unit cost', 'unitcost',
    'cost', 'preis', 'price', 'kosten', 'verrechnungspreis', 'einstandspreis', 'stueckpreis', 'acquisition_cost', 'valuation rate', '~rate',
  ],
  lead_time_days: ['lead_time_days', 'lead time', 'leadtime', 'lead_time', 'lt', 'lt_days', 'lt_weeks', 'wbz', 'wiederbeschaffungszeit', 'lieferzeit', 'plifz'],
  active: ['active', 'aktiv', 'is_active', 'enabled', 'status', 'stat', 'artikelstatus', '~blocked', '~gesperrt'],
  parent_item: ['parent_item', 'parent', 'parent item', 'assembly', 'baugruppe', 'kopfartikel', 'oberteil', 'vater', 'parent part', 'bom item', 'fg', '~product', '~item'],
  line_no: ['line_no', 'line', 'lineno', 'line number', 'pos', 'position', 'posnr', 'positionsnummer', 'zeile', 'seq', 'sequence', 'sequencenum'],
  component_item: ['component_item', 'component', 'komponente', 'bestandteil', 'idnrk', 'unterteil', 'child', 'child item', 'sub part', '~part', '~pn'],
  qty_per: ['qty_per', 'qty', 'quantity', 'menge', 'qty per', 'menge je', 'anzahl', 'komponentenmenge', 'menge pro', '~stk', '~amount'],
  scrap_pct: ['scrap_pct', 'scrap', 'scrap pct', 'scrap percent', 'ausschuss', 'ausschuss pct', 'ausschussprozent', 'verlust', 'waste'],
  valid_from: ['valid_from', 'valid from', 'gueltig ab', 'gueltigab', 'datuv', 'effective from', 'from date', 'fromdate', 'start date', '~from', '~von', '~ab', '~start'],
  valid_to: ['valid_to', 'valid to', 'gueltig bis', 'gueltigbis', 'datub', 'effective to', 'to date', 'todate', 'thru date', 'thrudate', 'end date', '~to', '~bis', '~end'],
  warehouse: ['warehouse', 'wh', 'lager', 'lagerort', 'lgort', 'location', 'loc', 'bin location', 'lagerplatz', 'store', 'storage location', 'facility', '~site'],
  lot: ['lot', 'charge', 'batch', 'charg', 'lot number', 'lot_no', 'lotnr', 'chargennummer', 'charge nr', 'lot serial number', 'batch no', '~serial'],
  qty: ['qty', 'quantity', 'menge', 'bestand', 'on hand', 'qoh', 'physical qoh', 'quantity on hand', 'current quantity', 'actual quantity', 'istbestand', 'labst', 'bestandsmenge', 'stock', '~counted quantity', '~anzahl'],
  value: ['value', 'wert', 'bestandswert', 'lagerwert', 'total value', 'total_cost', 'betrag', 'amount', 'salk3', '~total'],
  as_of: ['as_of', 'as of', 'stichtag', 'inventory date', 'count date', 'snapshot date', 'balance date', 'datum', 'date', '~scheduled date', '~zeit'],
  machine_id: ['machine_id', 'machine', 'maschine', 'machineid', 'machine id', 'maschinennummer', 'anlage', 'equipment', 'asset', 'resource', 'workcenter', 'arbeitsplatz', 'station', '~device'],
  ts: ['ts', 'timestamp', 'datetime', 'zeitstempel', 'zeitpunkt', 'event time', 'time', 'zeit', 'datum', 'date'],
  state: ['state', 'status', 'zustand', 'betriebszustand', 'machine state', 'mode', '~event'],
  good_count: ['good_count', 'good', 'gutteile', 'gut', 'good parts', 'good count', 'output', 'produced', 'gutmenge', '~yield', '~count'],
  reject_count: ['reject_count', 'reject', 'rejects', 'rejected', 'schlecht', 'schlechtteile', 'ausschuss', 'bad', 'nio', 'scrap'],
  downtime_reason: ['downtime_reason', 'reason', 'grund', 'stoergrund', 'stoerung', 'downtime reason', 'cause', 'fault', 'meldung', 'error', 'errorid', '~message', '~comment'],
  temperature_c: ['temperature_c', 'temp', 'temperature', 'temperatur', 'temp_c', '~air temperature', '~process temperature'],
  vibration_mm_s: ['vibration_mm_s', 'vibr', 'vibration', 'schwingung', 'vib'],
  power_kw: ['power_kw', 'power', 'leistung', 'kw', 'wirkleistung'],
};

const QUALIFIERS = new Set(['min', 'max', 'minimum', 'maximum', 'reorder', 'target', 'safety', 'package', 'pkg', 'previous', 'old', 'alt', 'avg', 'average', 'mindest', 'hoechst']);

/** How well a source column's name says it is `field`: 0 (not at all) to 1 (the field's own name or a strong synonym). */
export function nameScore(column: string, field: string): { score: number; synonym?: string } {
  const tokens = nameTokens(column);
  if (tokens.length === 0) return { score: 0 };
  const compact = tokens.join('');
  const stem = compact.replace(/\d+$/, '');
  let best: { score: number; synonym?: string } = { score: 0 };
  const synonyms = [field, ...(FIELD_SYNONYMS[field] ?? fallbackSynonyms(field))];
  for (const raw of synonyms) {
    const weak = raw.startsWith('~');
    const synTokens = nameTokens(weak ? raw.slice(1) : raw);
    const syn = synTokens.join('');
    if (syn === '') continue;
    let s = 0;
    if (compact === syn) s = 1;
    else if (stem !== '' && stem === syn) s = 0.9;
    else if (synTokens.length > 1 && synTokens.every((t) => tokens.includes(t))) s = 0.85;
    else if (tokens.length > 1 && tokens.includes(syn) && syn.length >= 2) s = 0.75;
    else if (syn.length >= 4 && compact.length >= 4 && (compact.startsWith(syn) || syn.startsWith(compact))) s = 0.65;
    if (weak) s *= 0.8;
    // `Min quantity`, `Reorder qty`: a quantity, but not the one meant.
    if (s > 0 && s < 1 && tokens.some((t) => QUALIFIERS.has(t)) && !synTokens.some((t) => QUALIFIERS.has(t))) s *= 0.8;
    if (s > best.score) best = { score: s, synonym: weak ? raw.slice(1) : raw };
  }
  return best;
}

/** A field of a custom entity: its own name and its parts. */
function fallbackSynonyms(field: string): string[] {
  const parts = field.split('_').filter((p) => p.length >= 3);
  return parts.length > 1 ? parts.map((p) => `~${p}`) : [];
}

/** File names that say which entity a file holds. */
export const ENTITY_FILE_HINTS: Record<string, readonly string[]> = {
  items: ['item', 'items', 'itemmast', 'itemmaster', 'artikel', 'artikelstamm', 'material', 'materialstamm', 'products', 'product', 'parts', 'teile', 'mara'],
  bom_lines: ['bom', 'boms', 'stueckliste', 'stuecklisten', 'billofmaterial', 'billofmaterials', 'stpo', 'structure'],
  stock_balances: ['openbal', 'balance', 'balances', 'bestand', 'bestaende', 'lagerbestand', 'stock', 'inventory', 'inventur', 'quant', 'onhand', 'mard'],
  machine_events: ['machlog', 'machinelog', 'machine', 'log', 'events', 'maschinenlog', 'mde', 'bde', 'telemetry', 'sensor'],
};
