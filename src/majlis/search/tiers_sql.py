"""SQL text of tiered search (migration 0008_search_tiers).

Search answers tier by tier and stops when the page is full:

0. identifiers — TRN, e-mail, external reference (btree on `customers`),
   secondary e-mails and full phone numbers (btree on `customer_search_keys`);
1. exact name — a whole normalised name equals the term (`customer_search_keys`);
2. prefix — a name, or a word of it, starts with the term, or the phone ends
   with its digits (`customer_search_keys`, range scans; a one-word term's
   page from `customer_search_words` in id order);
3. fuzzy — the k nearest customers by trigram word distance
   (`ORDER BY words <->> term LIMIT k` on GiST indexes led by company_id).

Why a key table and plain comparisons: under forced row-level security the
planner may only push a predicate into an index before the tenant policy when
every function it calls on a column is LEAKPROOF. `=`, `<`, `>=` on text,
`starts_with` and `=` on uuid are; `LIKE`, the trigram operators, `@>` on arrays
and functions such as `reverse()` are not, so indexes over them only ever see
the policy's `company_id = majlis_current_company()` and scan the whole
company. Every tier above therefore uses leakproof predicates over stored
columns, and the fuzzy tier uses the index only for *ordering* (KNN), with the
policy qual as its index condition.

Each tier ranks its candidates with the same expression as before
(`rank_key = tier * 1000 + 999 - floor(similarity * 999)`), so pages of
different tiers concatenate into one order on (rank_key, id).
"""

from __future__ import annotations

from majlis.search.sql import _FOLD_FROM, _FOLD_TO, DOCUMENT_OF_CUSTOMER

# Names are split into at most this many words; a word past it is not a prefix target.
MAX_KEY_WORDS = 12
# Longer than any accepted term (200 characters), so truncation never changes a match.
MAX_KEY_LENGTH = 512
NAME_FIELDS = ("name", "name_ar", "business_name", "business_name_ar")

_ARABIC_LETTERS = f"{chr(0x600)}-{chr(0x6FF)}{chr(0x750)}-{chr(0x77F)}"

# The text the fuzzy tier orders by: names and e-mail without digits (phones and
# numbered e-mails would otherwise make every number look alike), split by
# script — the Arabic words, or all the others (Latin, Thai). Each script has its
# own GiST index: mixing them fills the index's trigram signatures with
# trigrams a term of the other script never has (measured: an Arabic KNN reads
# 2-3 times fewer pages from the Arabic-only index).
SEARCH_WORDS = f"""
CREATE FUNCTION majlis_search_words(
    name_norm text, name_ar_norm text, business_name_norm text, business_name_ar_norm text,
    email text, arabic boolean
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
SELECT btrim(regexp_replace(
         coalesce(name_norm, '') || ' ' || coalesce(name_ar_norm, '') || ' '
         || coalesce(business_name_norm, '') || ' ' || coalesce(business_name_ar_norm, '') || ' '
         || coalesce(lower(email), ''),
         CASE WHEN arabic THEN '[^{_ARABIC_LETTERS} ]+' ELSE '[{_ARABIC_LETTERS}0-9]+' END,
         ' ', 'g'))
$fn$
"""

SCRIPTS = {"arabic": "true", "other": "false"}


def words_of_customer(script: str, row: str = "c.") -> str:
    """The fuzzy document of one script, as an expression over a customers row."""
    return (
        f"majlis_search_words({row}name_norm, {row}name_ar_norm, {row}business_name_norm,"
        f" {row}business_name_ar_norm, {row}email, {SCRIPTS[script]})"
    )


SEARCH_DIGITS = f"""
CREATE FUNCTION majlis_search_digits(p_term text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
SELECT regexp_replace(translate(p_term, '{_FOLD_FROM[:30]}', '{_FOLD_TO[:30]}'),
                      '[^0-9]', '', 'g')
$fn$
"""

# Every lookup key of one customer: each word suffix of each normalised name
# ("khalid omar trading", "omar trading", "trading"), each secondary e-mail and
# the reversed phone digits (a phone suffix becomes a key prefix).
SEARCH_KEYS_OF = f"""
CREATE FUNCTION majlis_search_keys_of(
    name_norm text, name_ar_norm text, business_name_norm text, business_name_ar_norm text,
    secondary_emails text[], phone_digits text
) RETURNS TABLE (field text, "position" smallint, key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
SELECT f.field, (w.i - 1)::smallint,
       left(array_to_string(f.words[w.i:], ' '), {MAX_KEY_LENGTH})
  FROM (VALUES ('name', string_to_array(name_norm, ' ')),
               ('name_ar', string_to_array(name_ar_norm, ' ')),
               ('business_name', string_to_array(business_name_norm, ' ')),
               ('business_name_ar', string_to_array(business_name_ar_norm, ' '))) AS f(field, words)
  CROSS JOIN LATERAL generate_series(1, least(cardinality(f.words), {MAX_KEY_WORDS})) AS w(i)
 WHERE f.words IS NOT NULL AND f.words <> '{{}}'
UNION ALL
SELECT 'email', (e.i - 1)::smallint, left(e.email, {MAX_KEY_LENGTH})
  FROM unnest(secondary_emails) WITH ORDINALITY AS e(email, i)
 WHERE e.email IS NOT NULL AND e.email <> ''
UNION ALL
SELECT 'phone', 0::smallint, reverse(phone_digits) WHERE phone_digits <> ''
$fn$
"""

KEYS_OF_ROW = (
    "majlis_search_keys_of({r}.name_norm, {r}.name_ar_norm, {r}.business_name_norm,"
    " {r}.business_name_ar_norm, {r}.secondary_emails, {r}.phone_digits)"
)

BACKFILL_KEYS = f"""
INSERT INTO customer_search_keys (company_id, customer_id, field, "position", key)
SELECT c.company_id, c.id, k.field, k."position", k.key
  FROM customers c CROSS JOIN LATERAL {KEYS_OF_ROW.format(r="c")} k
 WHERE c.deleted_at IS NULL
"""

# Only live customers have keys (deleted and merged ones are never found), so a
# bounded tier never spends its budget on them. Both triggers are statement-level
# over transition tables: a COPY, an import or a bulk update is keyed in one
# set-based statement. The bodies are PL/pgSQL, resolved when they run, because
# `merged_into_id` comes from another migration branch (0008_merges).
KEYS_ON_INSERT = f"""
CREATE FUNCTION majlis_search_keys_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO customer_search_keys (company_id, customer_id, field, "position", key)
    SELECT n.company_id, n.id, k.field, k."position", k.key
      FROM inserted n CROSS JOIN LATERAL {KEYS_OF_ROW.format(r="n")} k
     WHERE n.deleted_at IS NULL AND n.merged_into_id IS NULL;
    RETURN NULL;
END
$fn$
"""

# The updated customers whose keys change: a keyed column changed, or the
# customer was deleted, merged, or brought back. Collected first, so the common
# bulk update that changes none of them (tags, risk scores, balances) returns
# before `customer_search_keys` is planned against: under statistics gone stale
# for a growing company that plan was a loop over every key of the company.
KEYS_ON_UPDATE = f"""
CREATE OR REPLACE FUNCTION majlis_search_keys_on_update() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    rekeyed_companies uuid[];
    rekeyed_ids uuid[];
BEGIN
    SELECT array_agg(n.company_id), array_agg(n.id)
      INTO rekeyed_companies, rekeyed_ids
      FROM updated n JOIN previous o ON o.company_id = n.company_id AND o.id = n.id
     WHERE (o.name, o.name_ar, o.business_name, o.business_name_ar, o.secondary_emails,
            o.phone, o.deleted_at IS NULL AND o.merged_into_id IS NULL)
           IS DISTINCT FROM
           (n.name, n.name_ar, n.business_name, n.business_name_ar, n.secondary_emails,
            n.phone, n.deleted_at IS NULL AND n.merged_into_id IS NULL);
    IF rekeyed_ids IS NULL THEN
        RETURN NULL;
    END IF;
    DELETE FROM customer_search_keys k
     USING unnest(rekeyed_companies, rekeyed_ids) AS r(company_id, id)
     WHERE k.company_id = r.company_id AND k.customer_id = r.id;
    INSERT INTO customer_search_keys (company_id, customer_id, field, "position", key)
    SELECT n.company_id, n.id, k.field, k."position", k.key
      FROM updated n
      JOIN unnest(rekeyed_companies, rekeyed_ids) AS r(company_id, id)
        ON r.company_id = n.company_id AND r.id = n.id
     CROSS JOIN LATERAL {KEYS_OF_ROW.format(r="n")} k
     WHERE n.deleted_at IS NULL AND n.merged_into_id IS NULL;
    RETURN NULL;
END
$fn$
"""

TRIGGERS = (
    "CREATE TRIGGER customers_search_keys_insert AFTER INSERT ON customers"
    " REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT"
    " EXECUTE FUNCTION majlis_search_keys_on_insert()",
    "CREATE TRIGGER customers_search_keys_update AFTER UPDATE ON customers"
    " REFERENCING OLD TABLE AS previous NEW TABLE AS updated FOR EACH STATEMENT"
    " EXECUTE FUNCTION majlis_search_keys_on_update()",
)


# `customer_search_words` (migration 0012_search_words): every word of every name,
# one row per name key (a key's first word is the word at its position), keyed
# (company_id, word, customer_id, …) so one word's customers are read in id
# order. A stored column, because an index over `split_part(key, …)` is not
# leakproof and so never used under RLS. The rows follow `customer_search_keys`
# through statement-level triggers on that table: whatever re-keys a customer
# (insert, rename, delete, merge, a cascade) re-words it in the same statement.
_NAME_KEY = f"k.field IN ({', '.join(repr(field) for field in NAME_FIELDS)})"
_WORD_OF_KEY = "split_part(k.key, ' ', 1)"


def _words_of_keys(keys: str) -> str:
    return (
        'INSERT INTO customer_search_words (company_id, word, customer_id, field, "position")'
        f' SELECT k.company_id, {_WORD_OF_KEY}, k.customer_id, k.field, k."position"'
        f" FROM {keys} k WHERE {_NAME_KEY}"
    )


BACKFILL_WORDS = _words_of_keys("customer_search_keys")

WORDS_ON_INSERT = f"""
CREATE FUNCTION majlis_search_words_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    {_words_of_keys("added")};
    RETURN NULL;
END
$fn$
"""

WORDS_ON_DELETE = f"""
CREATE FUNCTION majlis_search_words_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM customer_search_words w
     USING removed k
     WHERE {_NAME_KEY} AND w.company_id = k.company_id AND w.word = {_WORD_OF_KEY}
       AND w.customer_id = k.customer_id AND w.field = k.field AND w."position" = k."position";
    RETURN NULL;
END
$fn$
"""

WORDS_TRIGGERS = {
    "customer_search_keys_words_insert": "AFTER INSERT ON customer_search_keys"
    " REFERENCING NEW TABLE AS added FOR EACH STATEMENT"
    " EXECUTE FUNCTION majlis_search_words_on_insert()",
    "customer_search_keys_words_delete": "AFTER DELETE ON customer_search_keys"
    " REFERENCING OLD TABLE AS removed FOR EACH STATEMENT"
    " EXECUTE FUNCTION majlis_search_words_on_delete()",
}
_Q = "majlis_normalize_text(p_term)"
_DIGITS = "ltrim(majlis_search_digits(p_term), '0')"
# The phone suffix a term stands for: its digits without a trunk/international
# leading zero ("0507654321" ends "+971507654321"), or as typed when only the
# typed form is long enough ("0091380" ends "+971500091380"). NULL below 6 digits.
PHONE_SUFFIX = f"""
CREATE FUNCTION majlis_search_phone_suffix(p_term text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
SELECT CASE WHEN length({_DIGITS}) >= 6 THEN {_DIGITS}
            WHEN length(majlis_search_digits(p_term)) >= 6 THEN majlis_search_digits(p_term)
       END
$fn$
"""
_NAME_FIELDS_FOR_LANG = (
    "(CASE p_lang WHEN 'en' THEN ARRAY['name', 'business_name']"
    " WHEN 'ar' THEN ARRAY['name_ar', 'business_name_ar']"
    " ELSE ARRAY['name', 'name_ar', 'business_name', 'business_name_ar'] END)"
)

# The candidates of one tier, each source an index lookup with leakproof
# predicates. PL/pgSQL so that only the asked tier is planned, each time with
# the term's values (a cached generic plan could not turn `starts_with` into an
# index range). p_k bounds the two large tiers (NULL: every match, for exports
# and counts): prefix candidates are taken whole-word matches first, then by
# id, after the page cursor (p_after_rank, p_after_id); fuzzy ones are the k
# nearest by trigram word distance, through the GiST index's KNN ordering.
_CANDIDATES_HEAD = f"""
CREATE FUNCTION majlis_search_candidates(
    p_company_id uuid, p_term text, p_lang text, p_tier integer, p_k integer,
    p_after_rank integer, p_after_id uuid
) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY INVOKER ROWS 50
SET plan_cache_mode = force_custom_plan SET max_parallel_workers_per_gather = 0 AS $fn$
DECLARE
    q text := left(majlis_normalize_text(p_term), {MAX_KEY_LENGTH});
    digits text := ltrim(majlis_search_digits(p_term), '0');
    phone_suffix text := majlis_search_phone_suffix(p_term);
    fields text[] := {_NAME_FIELDS_FOR_LANG};
    arabic_words text := majlis_search_words(q, NULL, NULL, NULL, NULL, true);
    other_words text := majlis_search_words(q, NULL, NULL, NULL, NULL, false);
"""

_IDENTIFIER_AND_EXACT_TIERS = """
    IF p_tier = 0 THEN
        RETURN QUERY
        SELECT c.id FROM customers c
         WHERE c.company_id = p_company_id AND c.deleted_at IS NULL
           AND c.email = lower(btrim(p_term))
        UNION
        SELECT c.id FROM customers c
         WHERE c.company_id = p_company_id AND c.deleted_at IS NULL
           AND c.external_ref = btrim(p_term)
        UNION
        SELECT c.id FROM customers c
         WHERE c.company_id = p_company_id AND c.deleted_at IS NULL
           AND length(majlis_search_digits(p_term)) = 15
           AND c.trn = majlis_search_digits(p_term)
        UNION
        SELECT k.customer_id FROM customer_search_keys k
         WHERE k.company_id = p_company_id AND k.field = 'email' AND k.key = lower(btrim(p_term))
        UNION
        SELECT k.customer_id FROM customer_search_keys k
         WHERE k.company_id = p_company_id AND length(digits) >= 9
           AND k.field = 'phone' AND starts_with(k.key, reverse(digits));
    ELSIF p_tier = 1 AND length(q) >= 2 THEN
        RETURN QUERY
        SELECT k.customer_id FROM customer_search_keys k
         WHERE k.company_id = p_company_id AND k.key = q AND k."position" = 0
           AND k.field = ANY(fields);
"""

_FUZZY_TIER = f"""
    ELSIF p_tier = 3 AND p_k IS NOT NULL AND length(q) >= 2 THEN
        RETURN QUERY
        (SELECT c.id FROM customers c
          WHERE arabic_words <> '' AND c.company_id = p_company_id AND c.deleted_at IS NULL
            AND c.merged_into_id IS NULL
          ORDER BY {words_of_customer("arabic")} <->> arabic_words
          LIMIT p_k)
        UNION
        (SELECT c.id FROM customers c
          WHERE other_words <> '' AND c.company_id = p_company_id AND c.deleted_at IS NULL
            AND c.merged_into_id IS NULL
          ORDER BY {words_of_customer("other")} <->> other_words
          LIMIT p_k);
    ELSIF p_tier = 3 AND p_k IS NULL AND length(q) >= 2 THEN
        RETURN QUERY
        SELECT c.id FROM customers c
         WHERE c.company_id = p_company_id AND c.deleted_at IS NULL
           AND (strpos({DOCUMENT_OF_CUSTOMER}, q) > 0 OR q <% {DOCUMENT_OF_CUSTOMER});
"""

_PHONE_SUFFIX_CANDIDATES = """
        SELECT k.customer_id FROM customer_search_keys k
         WHERE k.company_id = p_company_id AND phone_suffix IS NOT NULL
           AND k.field = 'phone' AND starts_with(k.key, reverse(phone_suffix))
"""

# Every customer with a name key starting with the term, whole-word matches
# first: one row per matching key is read and grouped, however many there are.
_PREFIX_BY_KEYS = """
            SELECT p.customer_id FROM (
                SELECT k.customer_id,
                       NOT bool_or(k.key = q OR starts_with(k.key, q || ' ')) AS partial
                  FROM customer_search_keys k
                 WHERE length(q) >= 2 AND k.company_id = p_company_id AND starts_with(k.key, q)
                   AND k.field = ANY(fields)
                 GROUP BY k.customer_id
                HAVING NOT bool_or(k."position" = 0 AND k.key = q)
            ) p
             WHERE p_after_id IS NULL
                OR (p.partial, p.customer_id) > (p_after_rank > 2000, p_after_id)
             ORDER BY p.partial, p.customer_id
             LIMIT p_k
"""

# A one-word term's page of prefix candidates read from `customer_search_words`
# in id order, so a common first name costs the page, not all its customers:
# 1. whole-word matches (rank 2000): the customers of the word itself, by id,
#    after the cursor, without those whose whole name is the term (tier 1);
# 2. only if the page is not full, partial matches (a longer word starting with
#    the term) without a whole-word match: the vocabulary of such words is
#    walked one index probe per word, and each word's customers are read by id
#    up to the rows still needed, so the cost follows the words, not the customers.
_PREFIX_BY_WORDS = """
            IF p_after_id IS NULL OR p_after_rank <= 2000 THEN
                RETURN QUERY
                SELECT w.customer_id FROM customer_search_words w
                 WHERE w.company_id = p_company_id AND w.word = q AND w.field = ANY(fields)
                   AND (p_after_id IS NULL OR w.customer_id > p_after_id)
                   AND NOT EXISTS (
                       SELECT FROM customer_search_keys e
                        WHERE e.company_id = p_company_id AND e.customer_id = w.customer_id
                          AND e.field = ANY(fields) AND e."position" = 0 AND e.key = q)
                 GROUP BY w.customer_id
                 ORDER BY w.customer_id
                 LIMIT p_k;
                GET DIAGNOSTICS whole_rows = ROW_COUNT;
                partial_after := NULL;
            END IF;
            IF whole_rows < p_k THEN
                -- One probe spares a probe per partial candidate when no name has the word.
                term_is_a_word := EXISTS (
                    SELECT FROM customer_search_words w
                     WHERE w.company_id = p_company_id AND w.word = q AND w.field = ANY(fields));
                RETURN QUERY
                WITH RECURSIVE vocabulary(word) AS (
                    (SELECT w.word FROM customer_search_words w
                      WHERE w.company_id = p_company_id AND starts_with(w.word, q)
                        AND w.word > q
                      ORDER BY w.word LIMIT 1)
                    UNION ALL
                    SELECT (SELECT w.word FROM customer_search_words w
                             WHERE w.company_id = p_company_id AND starts_with(w.word, q)
                               AND w.word > v.word
                             ORDER BY w.word LIMIT 1)
                      FROM vocabulary v
                     WHERE v.word IS NOT NULL
                )
                SELECT m.customer_id
                  FROM vocabulary v
                 CROSS JOIN LATERAL (
                     SELECT w.customer_id FROM customer_search_words w
                      WHERE w.company_id = p_company_id AND w.word = v.word
                        AND w.field = ANY(fields)
                        AND (partial_after IS NULL OR w.customer_id > partial_after)
                        AND (NOT term_is_a_word OR NOT EXISTS (
                            SELECT FROM customer_search_words x
                             WHERE x.company_id = p_company_id AND x.word = q
                               AND x.customer_id = w.customer_id AND x.field = ANY(fields)))
                      GROUP BY w.customer_id
                      ORDER BY w.customer_id
                      LIMIT p_k - whole_rows
                 ) m
                 GROUP BY m.customer_id
                 ORDER BY m.customer_id
                 LIMIT p_k - whole_rows;
            END IF;
"""


def _candidates_function(prefix_tier: str, declarations: str = "") -> str:
    return (
        f"{_CANDIDATES_HEAD}{declarations}BEGIN{_IDENTIFIER_AND_EXACT_TIERS}"
        f"    ELSIF p_tier = 2 THEN{prefix_tier}{_FUZZY_TIER}    END IF;\nEND\n$fn$\n"
    )


def or_replace(create_function: str) -> str:
    """The same CREATE FUNCTION statement, replacing the function if it exists."""
    return create_function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


# Migration 0008_search_tiers: every prefix match read and grouped.
SEARCH_CANDIDATES = _candidates_function(
    f"""
        RETURN QUERY{_PHONE_SUFFIX_CANDIDATES}        UNION ({_PREFIX_BY_KEYS}        );
"""
)

# Migration 0012_search_words: a one-word term's prefix page is read from the
# word postings in id order; a phrase, or every match (p_k NULL, for exports
# and counts), keeps the grouped read (a phrase's keys are few).
SEARCH_CANDIDATES_BY_WORD = _candidates_function(
    f"""
        RETURN QUERY{_PHONE_SUFFIX_CANDIDATES}        ;
        IF length(q) < 2 THEN
            RETURN;
        ELSIF p_k IS NULL OR strpos(q, ' ') > 0 THEN
            RETURN QUERY{_PREFIX_BY_KEYS}            ;
        ELSE{_PREFIX_BY_WORDS}        END IF;
""",
    declarations=(
        "    whole_rows integer := 0;\n"
        "    partial_after uuid := p_after_id;\n"
        "    term_is_a_word boolean;\n"
    ),
)

# One tier of the ranking, its candidates ranked exactly as before. Its plan is
# cached (generic): nothing here needs the term's values to pick an index — the
# candidates are found by majlis_search_candidates, which is planned per term.
SEARCH_TIER = f"""
CREATE FUNCTION majlis_search_tier(
    p_company_id uuid, p_term text, p_lang text, p_tier integer, p_k integer DEFAULT NULL,
    p_after_rank integer DEFAULT NULL, p_after_id uuid DEFAULT NULL
) RETURNS TABLE (customer_id uuid, rank_key integer, matched_field text)
LANGUAGE plpgsql STABLE SECURITY INVOKER ROWS 50
SET plan_cache_mode = force_generic_plan AS $fn$
#variable_conflict use_column
DECLARE
    -- The term's forms, computed once: in a generic plan they would be
    -- recomputed for every candidate and field.
    term_q text := {_Q};
    term_email text := lower(btrim(p_term));
    term_raw text := btrim(p_term);
    term_digits text := majlis_search_digits(p_term);
    term_suffix text := majlis_search_phone_suffix(p_term);
BEGIN
RETURN QUERY
WITH candidates AS (
    SELECT DISTINCT id FROM majlis_search_candidates(
        p_company_id, p_term, p_lang, p_tier, p_k, p_after_rank, p_after_id) AS found(id)
), term AS (
    SELECT term_q AS q, term_email AS email, term_raw AS raw, term_digits AS digits,
           term_suffix AS suffix
), hits AS (
    SELECT c.id, t.q,
           c.name_norm, c.name_ar_norm, c.business_name_norm, c.business_name_ar_norm,
           CASE
             WHEN t.digits <> '' AND c.trn = t.digits THEN 'trn'
             WHEN c.email = t.email OR t.email = ANY(c.secondary_emails) THEN 'email'
             WHEN c.external_ref = t.raw THEN 'external_ref'
             WHEN length(ltrim(t.digits, '0')) >= 9
                  AND right(c.phone_digits, length(ltrim(t.digits, '0'))) = ltrim(t.digits, '0')
                  THEN 'phone'
           END AS identifier,
           coalesce(length(t.digits) * 2 >= length(t.raw)
                    AND right(c.phone_digits, length(t.suffix)) = t.suffix,
                    false) AS phone_suffix
      FROM candidates x
      JOIN customers c ON c.company_id = p_company_id AND c.id = x.id
     CROSS JOIN term t
     WHERE c.deleted_at IS NULL AND c.merged_into_id IS NULL
       AND (
             (length(t.q) >= 2 AND (strpos({DOCUMENT_OF_CUSTOMER}, t.q) > 0
                                     OR t.q <% {DOCUMENT_OF_CUSTOMER}))
          OR (length(t.digits) = 15 AND c.trn = t.digits)
          OR c.email = t.email
          OR t.email = ANY(c.secondary_emails)
          OR c.external_ref = t.raw
          OR right(c.phone_digits, length(t.suffix)) = t.suffix
       )
), ranked AS (
    SELECT h.id,
           (CASE WHEN h.identifier IS NOT NULL THEN 0
                 WHEN coalesce(b.tier, 3) < 3 THEN b.tier
                 WHEN h.phone_suffix THEN 2
                 ELSE 3 END) * 1000
             + (999 - floor(coalesce(b.score, 0) * 999))::integer AS rank_key,
           coalesce(h.identifier,
                    CASE WHEN coalesce(b.tier, 3) < 3 OR NOT h.phone_suffix THEN b.field END,
                    CASE WHEN h.phone_suffix THEN 'phone' END,
                    'email') AS matched_field
      FROM hits h
      LEFT JOIN LATERAL (
          -- The best-matching name field: lowest tier, then highest similarity.
          SELECT v.field,
                 CASE WHEN v.value = h.q THEN 1
                      WHEN starts_with(v.value, h.q) OR strpos(v.value, ' ' || h.q) > 0 THEN 2
                      ELSE 3 END AS tier,
                 word_similarity(h.q, v.value) AS score
            FROM (VALUES ('name', h.name_norm, 'en'), ('name_ar', h.name_ar_norm, 'ar'),
                         ('business_name', h.business_name_norm, 'en'),
                         ('business_name_ar', h.business_name_ar_norm, 'ar'))
                   AS v(field, value, lang)
           WHERE v.value IS NOT NULL AND (p_lang IS NULL OR v.lang = p_lang)
           ORDER BY 2, 3 DESC, 1
           LIMIT 1
      ) b ON true
)
SELECT r.id, r.rank_key, r.matched_field FROM ranked r WHERE r.rank_key / 1000 = p_tier;
END
$fn$
"""

# Every match of every tier, for exports and counts (the same ranking as the pages).
SEARCH_RANKED = """
CREATE FUNCTION majlis_search_ranked(p_company_id uuid, p_term text, p_lang text DEFAULT NULL)
RETURNS TABLE (customer_id uuid, rank_key integer, matched_field text)
LANGUAGE sql STABLE SECURITY INVOKER AS $fn$
SELECT * FROM majlis_search_tier(p_company_id, p_term, p_lang, 0)
UNION ALL SELECT * FROM majlis_search_tier(p_company_id, p_term, p_lang, 1)
UNION ALL SELECT * FROM majlis_search_tier(p_company_id, p_term, p_lang, 2)
UNION ALL SELECT * FROM majlis_search_tier(p_company_id, p_term, p_lang, 3)
$fn$
"""

# The operators' entry point: tiers in order, stopping once offset + limit rows
# are found. Each tier's statement is planned with its values (EXECUTE), so the
# term's normal forms reach the indexes as constants.
SEARCH_PAGE = """
CREATE FUNCTION majlis_search_page(
    p_company_id uuid, p_term text, p_business_type text, p_lang text, p_wanted integer
) RETURNS TABLE (id uuid, name text, name_ar text, rank_key integer, matched_field text)
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $fn$
DECLARE
    found_rows integer := 0;
    tier_rows integer;
BEGIN
    FOR tier IN 0..3 LOOP
        EXIT WHEN found_rows >= p_wanted;
        RETURN QUERY EXECUTE
            'SELECT c.id, c.name, c.name_ar, r.rank_key, r.matched_field'
            '  FROM majlis_search_tier($1, $2, $3, $4, $5) r'
            '  JOIN customers c ON c.company_id = $1 AND c.id = r.customer_id'
            ' WHERE $6::text IS NULL OR c.business_type::text = $6'
            ' ORDER BY r.rank_key, r.customer_id LIMIT $7'
            USING p_company_id, p_term, p_lang, tier, 2 * p_wanted + found_rows,
                  p_business_type, p_wanted - found_rows;
        GET DIAGNOSTICS tier_rows = ROW_COUNT;
        found_rows := found_rows + tier_rows;
    END LOOP;
END
$fn$
"""

SEARCH_CUSTOMERS = """
CREATE FUNCTION search_customers(
    p_company_id uuid, p_term text, p_business_type text DEFAULT NULL,
    p_lang text DEFAULT NULL, p_limit integer DEFAULT 20, p_offset integer DEFAULT 0
) RETURNS TABLE (id uuid, name text, name_ar text, rank_key integer, matched_field text)
LANGUAGE sql STABLE SECURITY INVOKER AS $fn$
SELECT p.* FROM majlis_search_page(p_company_id, p_term, p_business_type, p_lang,
                                   p_limit + p_offset) p
 ORDER BY p.rank_key, p.id
 LIMIT p_limit OFFSET p_offset
$fn$
"""
