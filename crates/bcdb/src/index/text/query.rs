//! The query language: lexer and precedence parser.

use super::*;

/// A query word: lowercased token, whether it is a prefix, and its byte offset.
pub(super) struct Word {
    pub(super) text: String,
    pub(super) prefix: bool,
    pub(super) pos: usize,
}

/// Binary operators, loosest first (their precedence level is their index).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Op {
    Or,
    And,
    Not,
}

impl Op {
    pub(super) fn name(self) -> &'static str {
        ["OR", "AND", "NOT"][self as usize]
    }
}

pub(super) const LEVELS: [Op; 3] = [Op::Or, Op::And, Op::Not];

/// Query tree over words of type `W` (parsed words, then term ids); a single
/// word is a one-word phrase.
pub(super) enum Expr<W> {
    Phrase(Vec<W>),
    Bin(Op, Box<Expr<W>>, Box<Expr<W>>),
}

impl<W> Expr<W> {
    pub(super) fn try_map<V, E, F>(&self, f: &mut F) -> Result<Expr<V>, E>
    where
        F: FnMut(&W) -> Result<V, E>,
    {
        Ok(match self {
            Expr::Phrase(words) => {
                Expr::Phrase(words.iter().map(&mut *f).collect::<Result<_, E>>()?)
            }
            Expr::Bin(op, a, b) => Expr::Bin(*op, Box::new(a.try_map(f)?), Box::new(b.try_map(f)?)),
        })
    }
}

impl Expr<Vec<u32>> {
    /// Term ids that score: everything except the right side of a NOT.
    pub(super) fn positive_terms(&self, out: &mut Vec<u32>) {
        match self {
            Expr::Phrase(words) => words.iter().for_each(|ids| out.extend(ids)),
            Expr::Bin(op, a, b) => {
                a.positive_terms(out);
                if *op != Op::Not {
                    b.positive_terms(out);
                }
            }
        }
    }
}

pub(super) enum Lex {
    Open,
    Close,
    Op(Op),
    Words(Vec<Word>),
}

/// A lexeme and its byte offset in the query.
pub(super) type Tok = (Lex, usize);

/// Parses and validates a query (everything except prefix expansion limits).
pub(super) fn parse(query: &str) -> Result<Expr<Word>, QueryError> {
    if query.len() > MAX_QUERY_BYTES {
        let len = query.len();
        return error(format!(
            "query is {len} bytes long; the limit is {MAX_QUERY_BYTES}"
        ));
    }
    let toks = lex(query)?;
    if toks.is_empty() {
        return error("empty query: it contains no searchable word".to_string());
    }
    let words = toks.iter().flat_map(|tok| match &tok.0 {
        Lex::Words(words) => &words[..],
        _ => &[],
    });
    if let Some(word) = words.clone().nth(MAX_QUERY_TERMS) {
        return error(format!(
            "query has more than {MAX_QUERY_TERMS} terms (words, phrase words and prefixes); \
             the first one over the limit is at byte {}",
            word.pos
        ));
    }
    let mut parser = Parser {
        toks,
        next: 0,
        depth: 0,
    };
    let expr = parser.expr(0, None)?;
    match parser.toks.get(parser.next) {
        None => Ok(expr),
        Some((_, pos)) => error(format!("unbalanced `)` at byte {pos}")),
    }
}

pub(super) fn lex(query: &str) -> Result<Vec<Tok>, QueryError> {
    let mut toks = Vec::new();
    let mut pos = 0;
    while let Some(c) = query[pos..].chars().next() {
        let (lex, end) = match c {
            _ if c.is_whitespace() => (None, pos + c.len_utf8()),
            '(' => (Some(Lex::Open), pos + 1),
            ')' => (Some(Lex::Close), pos + 1),
            '"' => lex_phrase(query, pos)?,
            _ => lex_bare(query, pos)?,
        };
        toks.extend(lex.map(|lex| (lex, pos)));
        pos = end;
    }
    Ok(toks)
}

/// A quoted phrase opened at byte `open`; returns its words and where it ends.
pub(super) fn lex_phrase(query: &str, open: usize) -> Result<(Option<Lex>, usize), QueryError> {
    let bytes = query.as_bytes();
    let mut close = open + 1;
    loop {
        match bytes.get(close) {
            None => return error(format!("unbalanced quote at byte {open}: no closing quote")),
            Some(b'"') if bytes.get(close + 1) == Some(&b'"') => close += 2,
            Some(b'"') => break,
            Some(_) => close += 1,
        }
    }
    let mut words = split_words(&query[open + 1..close], open + 1)?;
    let mut end = close + 1;
    if bytes.get(end) == Some(&b'*') {
        // FTS5's `"pre fix"*`: the star applies to the last word.
        match words.last_mut() {
            Some(word) if !word.prefix => word.prefix = true,
            _ => return Err(star_error(end)),
        }
        end += 1;
    }
    Ok(((!words.is_empty()).then_some(Lex::Words(words)), end))
}

/// An operator, or a run of words up to whitespace, a parenthesis or a quote.
pub(super) fn lex_bare(query: &str, start: usize) -> Result<(Option<Lex>, usize), QueryError> {
    let is_end = |c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"');
    let end = query[start..]
        .find(is_end)
        .map_or(query.len(), |k| start + k);
    let lex = match &query[start..end] {
        "OR" => Some(Lex::Op(Op::Or)),
        "AND" => Some(Lex::Op(Op::And)),
        "NOT" => Some(Lex::Op(Op::Not)),
        run => {
            let words = split_words(run, start)?;
            (!words.is_empty()).then_some(Lex::Words(words))
        }
    };
    Ok((lex, end))
}

pub(super) fn star_error(pos: usize) -> QueryError {
    QueryError(format!("`*` at byte {pos} does not directly follow a word"))
}

/// Tokenizes `text` (at byte `base` of the query) like documents, marking
/// words directly followed by `*` as prefixes.
pub(super) fn split_words(text: &str, base: usize) -> Result<Vec<Word>, QueryError> {
    let mut words: Vec<Word> = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
        if c.is_alphanumeric() {
            start.get_or_insert(at);
            continue;
        }
        let ended_here = start.is_some();
        if let Some(from) = start.take() {
            let (text, pos) = (lowercase(&text[from..at]).into_owned(), base + from);
            if text.len() > MAX_TOKEN_BYTES {
                return error(format!(
                    "word at byte {pos} is longer than {MAX_TOKEN_BYTES} bytes; \
                     such tokens are not indexed"
                ));
            }
            let prefix = false;
            words.push(Word { text, prefix, pos });
        }
        if c == '*' {
            match words.last_mut() {
                Some(word) if ended_here => word.prefix = true,
                _ => return Err(star_error(base + at)),
            }
        }
    }
    Ok(words)
}

/// Precedence climbing over `LEVELS`; the operand is a phrase or `( ... )`.
pub(super) struct Parser {
    pub(super) toks: Vec<Tok>,
    pub(super) next: usize,
    pub(super) depth: usize,
}

/// The operator (and its byte offset) whose right operand is being parsed.
pub(super) type After = Option<(Op, usize)>;

impl Parser {
    /// Parses operators of precedence `level` and tighter.
    pub(super) fn expr(&mut self, level: usize, after: After) -> Result<Expr<Word>, QueryError> {
        let Some(&op) = LEVELS.get(level) else {
            return self.operand(after);
        };
        let mut left = self.expr(level + 1, after)?;
        loop {
            let after = match self.toks.get(self.next) {
                Some(&(Lex::Op(found), pos)) if found == op => {
                    self.next += 1;
                    Some((op, pos))
                }
                // Adjacent operands: implicit AND.
                Some((Lex::Open | Lex::Words(_), _)) if op == Op::And => None,
                _ => return Ok(left),
            };
            let right = self.expr(level + 1, after)?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    pub(super) fn operand(&mut self, after: After) -> Result<Expr<Word>, QueryError> {
        let Some(tok) = self.toks.get_mut(self.next) else {
            return Err(missing_operand(after, None));
        };
        let pos = tok.1;
        match &mut tok.0 {
            Lex::Words(words) => {
                let words = std::mem::take(words);
                self.next += 1;
                Ok(Expr::Phrase(words))
            }
            Lex::Open => {
                self.next += 1;
                self.group(pos)
            }
            _ => Err(missing_operand(after, Some(tok))),
        }
    }

    /// The inside of the parentheses opened at byte `open`.
    pub(super) fn group(&mut self, open: usize) -> Result<Expr<Word>, QueryError> {
        let unbalanced = || error(format!("unbalanced `(` at byte {open}: no matching `)`"));
        match self.toks.get(self.next).map(|t| &t.0) {
            _ if self.depth >= MAX_NESTING => {
                return error(format!(
                    "parentheses nested deeper than {MAX_NESTING} at byte {open}"
                ))
            }
            Some(Lex::Close) => return error(format!("empty parentheses at byte {open}")),
            None => return unbalanced(),
            Some(_) => {}
        }
        self.depth += 1;
        let inner = self.expr(0, None)?;
        self.depth -= 1;
        match self.toks.get(self.next) {
            Some((Lex::Close, _)) => {
                self.next += 1;
                Ok(inner)
            }
            _ => unbalanced(),
        }
    }
}

/// Explains why no operand was found where one was expected.
pub(super) fn missing_operand(after: After, found: Option<&Tok>) -> QueryError {
    QueryError(match (after, found) {
        (Some((op, pos)), _) => {
            format!("`{}` at byte {pos} is missing its right operand", op.name())
        }
        (None, Some(&(Lex::Op(Op::Not), pos))) => format!(
            "`NOT` at byte {pos} is missing its left operand (NOT is binary: write `a NOT b`)"
        ),
        (None, Some(&(Lex::Op(op), pos))) => {
            format!("`{}` at byte {pos} is missing its left operand", op.name())
        }
        (None, Some((_, pos))) => format!("unbalanced `)` at byte {pos}"),
        (None, None) => "unexpected end of query".to_string(),
    })
}
