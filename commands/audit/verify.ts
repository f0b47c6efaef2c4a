import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { ExitCode, ForkliftError } from '../../src/core/errors.js';
import { verifyChain, type VerifyResult } from '../../src/audit/chain.js';
import { readLedger, verifyImported, type ImportedCheck } from '../../src/audit/source.js';
import { loadPublicKey } from '../../src/audit/signing.js';

export default class AuditVerify extends BaseCommand {
  static override summary = 'Recompute the audit chain of a store or a bundle: an edited, deleted, inserted or reordered entry fails.';
  static override examples = [
    '<%= config.bin %> audit verify sqlite:./forklift.db',
    '<%= config.bin %> audit verify acme-exit-2026-11-22 --head 3f9c…',
    '<%= config.bin %> audit verify postgres://erp@db/acme --json',
    '<%= config.bin %> audit verify sqlite:./forklift.db --pubkey keys/forklift-signing.pub',
  ];
  static override args = { source: Args.string({ description: 'A store URL, or a bundle folder or .zip.', required: true }) };
  static override flags = {
    head: Flags.string({ description: 'A ledger head kept elsewhere (a run report, a bundle’s Forklift-Ledger-Head): it must be in the chain.' }),
    pubkey: Flags.string({ description: 'An Ed25519 public key (PEM, from audit keygen): every signature must verify with it.' }),
  };

  async run(): Promise<VerifyResult & { source: string; imported: ImportedCheck[] }> {
    const { args, flags } = await this.parse(AuditVerify);
    const pubkey = flags.pubkey === undefined ? undefined : loadPublicKey(flags.pubkey);
    const ledger = await readLedger(args.source);
    const fail = (message: string, code: string, hint: string, data?: unknown): never => {
      throw new ForkliftError(message, { exitCode: ExitCode.runtime, code, hint, ...(data ? { data } : {}) });
    };
    if (!ledger.exists) {
      fail(`${ledger.display}: no ledger in this ${ledger.kind}`, 'audit.no-ledger', ledger.kind === 'bundle' ? 'Export the store with its forklift_runs table (without --tables, or with forklift_runs in it).' : 'Runs are recorded by migrate and bundle import.');
    }
    if (!ledger.chained) {
      fail(
        `${ledger.display}: forklift_runs has ${ledger.records.length} entr${ledger.records.length === 1 ? 'y' : 'ies'} and no audit chain yet (written before the chain existed)`,
        'audit.unchained',
        ledger.kind === 'store'
          ? `Start the chain with forklift audit init --target ${ledger.display} (the entries are kept and chained in order), or with the next run that writes to this store.`
          : 'The store it came from had no audit chain when it was exported: run forklift audit init on that store, then export it again.',
      );
    }
    const result = verifyChain(ledger.records, { head: flags.head, pubkey });
    const imported = verifyImported(ledger);
    const shown = { source: ledger.display, ...result, imported };
    if (!result.ok) {
      const signing = result.problem!.kind === 'signature' || result.problem!.kind === 'unsigned';
      fail(
        `${ledger.display}: the audit chain does not verify: ${result.problem!.message}`,
        `audit.${result.problem!.kind}`,
        signing ? 'Check that --pubkey is the public key of the key the runs were signed with; if it is, the ledger was changed after it was signed.' : 'The ledger was changed after it was written. Compare with a copy kept elsewhere (a bundle, a run report’s ledger_head).',
        shown,
      );
    }
    const badCopy = imported.find((c) => !c.ok);
    if (result.ok && badCopy) {
      fail(`${ledger.display}: forklift_imported_runs, the ledger brought by import ${badCopy.import_id}, does not verify: ${badCopy.problem!}`, 'audit.imported', 'The copy was changed after the import; the bundle it came from holds the original.', shown);
    }
    if (result.entries === 0 && flags.head === undefined) {
      fail(`${ledger.display}: no chained entries yet (${result.unchained} from before the chain)`, 'audit.unchained', `Start the chain with forklift audit init --target ${ledger.display}, or with the next run that writes to this store (migrate, bundle import).`);
    }
    if (!this.jsonEnabled()) {
      const parts = [`${result.entries} entr${result.entries === 1 ? 'y' : 'ies'} chained`, `head ${result.head}`];
      if (result.unchained) parts.push(`${result.unchained} unchained entr${result.unchained === 1 ? 'y' : 'ies'} before the chain (not covered: forklift audit init chains them)`);
      if (result.signatures) parts.push(`${result.signatures.signed} signature${result.signatures.signed === 1 ? '' : 's'} verified with key ${result.signatures.key_id.slice(0, 12)}${result.signatures.unsigned_before ? ` (${result.signatures.unsigned_before} earlier unsigned, covered by the chain)` : ''}`);
      if (imported.length) parts.push(`${imported.length} imported ledger${imported.length === 1 ? '' : 's'} verif${imported.length === 1 ? 'ies' : 'y'} (forklift_imported_runs)`);
      if (result.afterHead !== undefined) parts.push(`--head found${result.afterHead ? `, ${result.afterHead} entr${result.afterHead === 1 ? 'y' : 'ies'} after it` : ' (the current head)'}`);
      this.log(`${ledger.display}: audit chain verifies · ${parts.join(' · ')}`);
    }
    return shown;
  }
}
