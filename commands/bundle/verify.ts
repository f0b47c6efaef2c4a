import { Args, Flags } from '../../src/cli/oclif.js';
import { BaseCommand } from '../../src/cli/base.js';
import { textSpinner } from '../../src/cli/progress.js';
import { table } from '../../src/cli/render.js';
import { BundleError } from '../../src/core/errors.js';
import { verifyBundle, type VerifyResult } from '../../src/bundle/verify.js';
import { loadPublicKey } from '../../src/audit/signing.js';

export default class BundleVerify extends BaseCommand {
  static override summary = 'Check a bundle: every checksum, no file missing or extra, row counts, every value against its type, keys and references.';
  static override examples = ['<%= config.bin %> bundle verify acme-exit-2026-11-22', '<%= config.bin %> bundle verify acme-exit.zip --json', '<%= config.bin %> bundle verify acme-exit-2026-11-22 --pubkey keys/forklift-signing.pub'];
  static override args = { bundle: Args.string({ description: 'A bundle folder, a zipped bundle, or any BagIt bag.', required: true }) };
  static override flags = {
    'checksums-only': Flags.boolean({ description: 'Check only the bag: checksums, missing and extra files, Payload-Oxum (not the values).' }),
    formats: Flags.boolean({ description: 'Also compare every Parquet value with the Arrow file and read the workbook’s sheets (slower; without it, Parquet row counts only).' }),
    pubkey: Flags.string({ description: 'An Ed25519 public key (PEM, from audit keygen): the exit certificate’s and the ledger’s signatures must verify with it.' }),
  };

  async run(): Promise<VerifyResult> {
    const { args, flags } = await this.parse(BundleVerify);
    const pubkey = flags.pubkey === undefined ? undefined : loadPublicKey(flags.pubkey);
    const spinner = await textSpinner(this.interactive);
    const fmt = new Intl.NumberFormat('en-US');
    let result: VerifyResult;
    try {
      result = await verifyBundle(args.bundle, { checksumsOnly: flags['checksums-only'], formats: flags.formats, pubkey, progress: (p) => spinner.update(`checking ${p.table}: ${fmt.format(p.rows)} rows`) });
    } finally {
      spinner.stop();
    }
    const { entities: _e, ...shown } = result;
    if (!result.valid) {
      throw new BundleError(`${result.bundle} does not verify: ${result.problems[0] ?? 'see the problems'}`, {
        code: 'bundle.invalid',
        hint: verifyHint(result),
        details: result.problems.slice(1),
        data: shown,
      });
    }
    if (!this.jsonEnabled()) {
      if (result.tables.length) this.log(table(['table', 'rows'], result.tables.map((t) => [t.name, fmt.format(t.rows)]), (c) => c === 1) + '\n');
      const more = [];
      if (result.certificate) more.push(`exit certificate matches the payload${result.certificate.signed && pubkey ? ', signature verified' : result.certificate.signed ? ' (signed; --pubkey checks it)' : ''}`);
      if (result.ledger) more.push(`audit chain of ${result.ledger.entries} entries verifies${signaturesText(result.ledger.signatures)}`);
      this.log(`${result.bundle}: valid${result.forklift_bundle ? ' forklift bundle' : ' BagIt bag'} · ${fmt.format(result.bag.payloadFiles)} files, ${fmt.format(result.bag.payloadBytes)} bytes, ${result.bag.algorithms.join(', ')} checked${more.map((m) => ` · ${m}`).join('')}`);
    }
    return shown as VerifyResult;
  }
}

/** What the signatures of the chain came to: how many verified, and what covers the unsigned entries. */
function signaturesText(s: NonNullable<VerifyResult['ledger']>['signatures']): string {
  if (!s) return '';
  const unsigned = s.unsigned_before === 0 ? '' : `${s.unsigned_before} unsigned ${s.unsigned_before === 1 ? 'entry' : 'entries'} from before the key, covered by ${s.covered_by ?? 'the first signed entry'}`;
  if (s.signed === 0) return `, ${unsigned}`;
  return `, ${s.signed} signatures verified${unsigned ? `, ${unsigned}` : ''}`;
}

function verifyHint(result: VerifyResult): string {
  if (result.signature_problems !== undefined && result.signature_problems === result.problem_count) {
    return 'Everything else verifies: check that --pubkey is the public key of the key the runs and the exit were signed with; if it is, a signed file or a signature was changed.';
  }
  return result.problem_count > 1 ? `${result.problem_count} problems; the first ${Math.min(result.problems.length, 50)} are listed.` : 'The bundle was changed after it was written, or it was not written completely: export it again from the source.';
}
