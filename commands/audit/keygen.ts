import { Args, Flags } from '../../src/cli/oclif.js';
import { BaseCommand } from '../../src/cli/base.js';
import { generateSigningKeys, type KeygenResult } from '../../src/audit/signing.js';

export default class AuditKeygen extends BaseCommand {
  static override summary = 'Write an Ed25519 key pair for signing the audit trail and exit certificates.';
  static override description =
    'DIR gets forklift-signing.key (the private key, PEM, mode 0600) and forklift-signing.pub (the public key, PEM). Set FORKLIFT_SIGNING_KEY to the private key’s path to sign every ledger entry and exit certificate; give the public key to audit verify and bundle verify with --pubkey. Existing keys are kept unless --force.';
  static override examples = ['<%= config.bin %> audit keygen ~/.forklift/keys', 'FORKLIFT_SIGNING_KEY=~/.forklift/keys/forklift-signing.key <%= config.bin %> migrate'];
  static override args = { dir: Args.string({ description: 'The folder to write the key pair into (created if missing).', required: true }) };
  static override flags = {
    force: Flags.boolean({ description: 'Replace an existing key pair (what the old key signed can then only be checked with the old public key).' }),
  };

  async run(): Promise<KeygenResult> {
    const { args, flags } = await this.parse(AuditKeygen);
    const result = generateSigningKeys(args.dir, { force: flags.force });
    if (!this.jsonEnabled()) {
      this.log(`private key: ${result.private_key} (mode 0600; set FORKLIFT_SIGNING_KEY to this path to sign)`);
      this.log(`public key:  ${result.public_key} (give it to audit verify and bundle verify with --pubkey)`);
      this.log(`key id:      ${result.key_id} (SHA-256 of the public key)`);
    }
    return result;
  }
}
