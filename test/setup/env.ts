/**
 * Every CLI a test starts inherits this process's environment. NODE_EXTRA_CA_CERTS (set on these
 * machines for npm) makes each Node process read and parse the whole CA bundle at start, 50-80 ms
 * here: across the suite's CLI runs that was minutes. No test connects over TLS.
 */
delete process.env.NODE_EXTRA_CA_CERTS;
