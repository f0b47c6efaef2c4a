import { Args, Flags } from '../../src/cli/oclif.js';
import { BaseCommand } from '../../src/cli/base.js';
import { auditVerify, type AuditVerification } from '../../src/audit/source.js';

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
    head: Flags.string({ description: 'A ledger head kept elsewhere (a run report’s ledger_head, a bundle’s Forklift-Ledger-Head): it must be in the chain. All 64 hex digits, or at least the first 12 (as audit log prints them).' }),
    pubkey: Flags.string({ description: 'An Ed25519 public key (PEM, from audit keygen): every signature must verify with it.' }),
  };

  async run(): Promise<AuditVerification> {
    const { args, flags } = await this.parse(AuditVerify);
    const result = await auditVerify({ source: args.source, head: flags.head, pubkey: flags.pubkey });
    const imported = result.imported;
    if (!this.jsonEnabled()) {
      const parts = [`${result.entries} entr${result.entries === 1 ? 'y' : 'ies'} chained`, `head ${result.head}`];
      if (result.unchained) {
        const one = result.unchained === 1;
        const n = `${result.unchained} unchained entr${one ? 'y' : 'ies'} before the chain`;
        parts.push(
          result.unchainedRecorded
            ? `${n}, as its first entry records ${one ? 'it' : 'them'} (not covered by the chain: forklift audit init chains ${one ? 'it' : 'them'})`
            : `${n}, which its first entry does not record (begun by an earlier forklift): nothing proves ${one ? 'it predates' : 'they predate'} the chain; compare with a copy kept elsewhere before forklift audit init chains ${one ? 'it' : 'them'}`,
        );
      }
      if (result.signatures) parts.push(`${result.signatures.signed} signature${result.signatures.signed === 1 ? '' : 's'} verified with key ${result.signatures.key_id.slice(0, 12)}${result.signatures.unsigned_before ? ` (${result.signatures.unsigned_before} earlier unsigned, covered by the chain)` : ''}`);
      if (imported.length) parts.push(`${imported.length} imported ledger${imported.length === 1 ? '' : 's'} verif${imported.length === 1 ? 'ies' : 'y'} (forklift_imported_runs)`);
      if (result.pinned_head !== undefined) parts.push(`ends at the head bag-info.txt records (Forklift-Ledger-Head ${result.pinned_head.slice(0, 12)})`);
      else if (result.afterHead !== undefined && flags.head !== undefined) {
        const given = flags.head.trim().toLowerCase();
        const as = given === result.headFound ? '' : ` as ${result.headFound} (from its first ${given.length} digits)`;
        parts.push(`--head found${as}${result.afterHead ? `, ${result.afterHead} entr${result.afterHead === 1 ? 'y' : 'ies'} after it` : ' (the current head)'}`);
      }
      this.log(`${result.source}: audit chain verifies · ${parts.join(' · ')}`);
    }
    return result;
  }
}
