"""SQL text of the search, import and analytics database objects (used by migration 0004).

`majlis_normalize_text` mirrors `majlis.core.i18n.normalize_text` step by step so
that an index built by PostgreSQL and a term normalised in Python agree:

1. NFKD, then drop the combining marks below U+0600 (Latin accents) and the
   invisible bidi/zero-width characters;
2. NFC (recomposes Arabic hamza forms before they are folded);
3. drop Arabic tashkeel, Quranic marks and tatweel;
4. fold hamza forms, ى, ة and Arabic-Indic/Persian/Thai digits with one `translate`;
5. lower-case, plus the two letters where `str.casefold` differs from `lower` (ß, ς);
6. collapse every Unicode whitespace run to one space and trim.

The character classes are spelled out from code points so the migration never
changes when Python's Unicode tables do.
"""

from __future__ import annotations


def _char_class(*ranges: tuple[int, int]) -> str:
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


# unicodedata.combining(ch) != 0 for ch < U+0600 (Latin, Greek, Cyrillic, Hebrew marks).
_LATIN_COMBINING = _char_class(
    (0x300, 0x34E),
    (0x350, 0x36F),
    (0x483, 0x487),
    (0x591, 0x5BD),
    (0x5BF, 0x5BF),
    (0x5C1, 0x5C2),
    (0x5C4, 0x5C5),
    (0x5C7, 0x5C7),
)
_INVISIBLES = _char_class((0x200B, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069), (0xFEFF, 0xFEFF))
_ARABIC_MARKS_AND_TATWEEL = _char_class(
    (0x610, 0x61A), (0x640, 0x640), (0x64B, 0x65F), (0x670, 0x670), (0x6D6, 0x6ED)
)
# Python's `\s` for str patterns.
_WHITESPACE = _char_class(
    (0x9, 0xD),
    (0x1C, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
_FOLD_FROM = (
    "".join(chr(base + i) for base in (0x660, 0x6F0, 0xE50) for i in range(10)) + "أإآٱىةؤئ"
)
_FOLD_TO = "0123456789" * 3 + "اااايهوي"

NORMALIZE_TEXT = f"""
CREATE FUNCTION majlis_normalize_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
SELECT btrim(regexp_replace(replace(replace(lower(translate(
         regexp_replace(
           normalize(regexp_replace(normalize(value, NFKD),
                                    '[{_LATIN_COMBINING}{_INVISIBLES}]', '', 'g'), NFC),
           '[{_ARABIC_MARKS_AND_TATWEEL}]', '', 'g'),
         '{_FOLD_FROM}', '{_FOLD_TO}')),
       'ß', 'ss'), 'ς', 'σ'),
       '[{_WHITESPACE}]+', ' ', 'g'), ' ')
$fn$
"""

# Time-ordered ids generated in SQL for set-based inserts (imports): the same
# layout as majlis.core.ids.new_id — 48-bit milliseconds, version 7, variant 10.
UUID_V7 = """
CREATE FUNCTION majlis_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $fn$
SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
         PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                           FROM 3)
         FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$fn$
"""

# The text the trigram index covers: every normalised name plus the e-mail address.
SEARCH_DOCUMENT = """
CREATE FUNCTION majlis_search_document(
    name_norm text, name_ar_norm text, business_name_norm text, business_name_ar_norm text,
    email text
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
SELECT coalesce(name_norm, '') || ' ' || coalesce(name_ar_norm, '') || ' '
    || coalesce(business_name_norm, '') || ' ' || coalesce(business_name_ar_norm, '') || ' '
    || coalesce(email, '')
$fn$
"""

DOCUMENT_OF_CUSTOMER = (
    "majlis_search_document(c.name_norm, c.name_ar_norm, c.business_name_norm,"
    " c.business_name_ar_norm, c.email)"
)

# Ranking, in one place for the API and for operators. An inlinable SQL function:
# the planner folds the term's normal forms into constants and uses the indexes.
# rank_key = tier * 1000 + (999 - similarity * 999): an integer, so keyset
# pagination on (rank_key, id) is exact. Tiers: 0 identifier, 1 exact name,
# 2 name prefix or phone suffix, 3 fuzzy.
SEARCH_RANKED = f"""
CREATE FUNCTION majlis_search_ranked(p_company_id uuid, p_term text, p_lang text DEFAULT NULL)
RETURNS TABLE (customer_id uuid, rank_key integer, matched_field text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $fn$
WITH term AS (
    SELECT majlis_normalize_text(p_term) AS q,
           lower(btrim(p_term)) AS email,
           btrim(p_term) AS raw,
           regexp_replace(translate(p_term, '{_FOLD_FROM[:30]}', '{_FOLD_TO[:30]}'),
                          '[^0-9]', '', 'g') AS digits
), hits AS (
    SELECT c.id, t.q,
           c.name_norm, c.name_ar_norm, c.business_name_norm, c.business_name_ar_norm,
           CASE
             WHEN t.digits <> '' AND c.trn = t.digits THEN 'trn'
             WHEN c.email = t.email OR c.secondary_emails @> ARRAY[t.email] THEN 'email'
             WHEN c.external_ref = t.raw THEN 'external_ref'
             WHEN length(ltrim(t.digits, '0')) >= 9
                  AND c.phone_digits LIKE '%' || ltrim(t.digits, '0') THEN 'phone'
           END AS identifier,
           coalesce(length(ltrim(t.digits, '0')) >= 6 AND length(t.digits) * 2 >= length(t.raw)
                    AND c.phone_digits LIKE '%' || ltrim(t.digits, '0'), false) AS phone_suffix
      FROM customers c, term t
     WHERE c.company_id = p_company_id
       AND c.deleted_at IS NULL
       AND (
             (length(t.q) >= 2 AND ({DOCUMENT_OF_CUSTOMER} LIKE '%' || t.q || '%'
                                     OR t.q <% {DOCUMENT_OF_CUSTOMER}))
          OR (length(t.digits) = 15 AND c.trn = t.digits)
          OR c.email = t.email
          OR c.secondary_emails @> ARRAY[t.email]
          OR c.external_ref = t.raw
          OR (length(ltrim(t.digits, '0')) >= 6
              AND reverse(c.phone_digits) LIKE reverse(ltrim(t.digits, '0')) || '%')
       )
), best AS (
    -- The best-matching name field of each hit: lowest tier, then highest similarity.
    SELECT DISTINCT ON (h.id) h.id, f.field, f.tier, f.score
      FROM hits h
      CROSS JOIN LATERAL (
          SELECT v.field,
                 CASE WHEN v.value = h.q THEN 1
                      WHEN v.value LIKE h.q || '%' OR v.value LIKE '% ' || h.q || '%' THEN 2
                      ELSE 3 END AS tier,
                 word_similarity(h.q, v.value) AS score
            FROM (VALUES ('name', h.name_norm, 'en'), ('name_ar', h.name_ar_norm, 'ar'),
                         ('business_name', h.business_name_norm, 'en'),
                         ('business_name_ar', h.business_name_ar_norm, 'ar'))
                   AS v(field, value, lang)
           WHERE v.value IS NOT NULL AND (p_lang IS NULL OR v.lang = p_lang)
      ) f
     ORDER BY h.id, f.tier, f.score DESC, f.field
)
SELECT h.id,
       (CASE WHEN h.identifier IS NOT NULL THEN 0
             WHEN coalesce(b.tier, 3) < 3 THEN b.tier
             WHEN h.phone_suffix THEN 2
             ELSE 3 END) * 1000
         + (999 - floor(coalesce(b.score, 0) * 999))::integer,
       coalesce(h.identifier,
                CASE WHEN coalesce(b.tier, 3) < 3 OR NOT h.phone_suffix THEN b.field END,
                CASE WHEN h.phone_suffix THEN 'phone' END,
                'email')
  FROM hits h
  LEFT JOIN best b ON b.id = h.id
$fn$
"""

SEARCH_CUSTOMERS = """
CREATE FUNCTION search_customers(
    p_company_id uuid, p_term text, p_business_type text DEFAULT NULL,
    p_lang text DEFAULT NULL, p_limit integer DEFAULT 20, p_offset integer DEFAULT 0
) RETURNS TABLE (id uuid, name text, name_ar text, rank_key integer, matched_field text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $fn$
SELECT c.id, c.name, c.name_ar, r.rank_key, r.matched_field
  FROM majlis_search_ranked(p_company_id, p_term, p_lang) r
  JOIN customers c ON c.company_id = p_company_id AND c.id = r.customer_id
 WHERE p_business_type IS NULL OR c.business_type::text = p_business_type
 ORDER BY r.rank_key, r.customer_id
 LIMIT p_limit OFFSET p_offset
$fn$
"""

ANALYTICS_SUMMARY = """
CREATE MATERIALIZED VIEW customer_analytics_summary AS
WITH live AS (
    SELECT company_id, business_type::text AS business_type, source::text AS source,
           is_active, last_seen_at, risk_score, outstanding_balance, created_at
      FROM customers WHERE deleted_at IS NULL
), buckets AS (
    SELECT company_id, 'total' AS dimension, 'all' AS bucket,
           count(*) AS customers, sum(outstanding_balance) AS outstanding_total
      FROM live GROUP BY company_id
    UNION ALL
    SELECT company_id, 'business_type', coalesce(business_type, 'unknown'),
           count(*), sum(outstanding_balance)
      FROM live GROUP BY company_id, business_type
    UNION ALL
    SELECT company_id, 'source', source, count(*), sum(outstanding_balance)
      FROM live GROUP BY company_id, source
    UNION ALL
    SELECT company_id, 'activity',
           CASE WHEN NOT is_active THEN 'inactive'
                WHEN last_seen_at >= now() - interval '30 days' THEN 'active_30d'
                WHEN last_seen_at >= now() - interval '90 days' THEN 'active_90d'
                ELSE 'dormant' END,
           count(*), sum(outstanding_balance)
      FROM live GROUP BY 1, 3
    UNION ALL
    SELECT company_id, 'risk_band',
           CASE WHEN risk_score IS NULL THEN 'unscored'
                WHEN risk_score < 4 THEN 'low'
                WHEN risk_score < 7 THEN 'medium'
                ELSE 'high' END,
           count(*), sum(outstanding_balance)
      FROM live GROUP BY 1, 3
    UNION ALL
    SELECT company_id, 'week',
           to_char(date_trunc('week', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'),
           count(*), sum(outstanding_balance)
      FROM live WHERE created_at >= now() - interval '26 weeks' GROUP BY 1, 3
    UNION ALL
    SELECT company_id, 'day', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
           count(*), sum(outstanding_balance)
      FROM live WHERE created_at >= now() - interval '90 days' GROUP BY 1, 3
)
SELECT buckets.*, now() AS refreshed_at FROM buckets
"""

# Readers see only their own company's rows: the views run as their owner (who may
# read the matview) but filter by the transaction's tenant; the app role never
# gets SELECT on the matview itself.
ANALYTICS_CURRENT_VIEW = """
CREATE VIEW customer_analytics_current AS
SELECT dimension, bucket, customers, outstanding_total, refreshed_at
  FROM customer_analytics_summary
 WHERE company_id = majlis_current_company()
"""

DAILY_PERFORMANCE_VIEW = """
CREATE VIEW customer_daily_performance AS
SELECT bucket::date AS day, customers AS new_customers, outstanding_total
  FROM customer_analytics_summary
 WHERE company_id = majlis_current_company() AND dimension = 'day'
"""

WEEKLY_TREND_VIEW = """
CREATE VIEW customer_weekly_trend AS
SELECT bucket::date AS week, customers AS new_customers,
       sum(customers) OVER (ORDER BY bucket) AS cumulative_customers,
       customers - lag(customers, 1, 0::bigint) OVER (ORDER BY bucket) AS change
  FROM customer_analytics_summary
 WHERE company_id = majlis_current_company() AND dimension = 'week'
"""

# Runs as the owner so the app (and the scheduled job) may refresh without SELECT
# on the matview; CONCURRENTLY keeps readers unblocked during the refresh.
REFRESH_ANALYTICS = """
CREATE FUNCTION refresh_customer_analytics() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $fn$
REFRESH MATERIALIZED VIEW CONCURRENTLY customer_analytics_summary
$fn$
"""
