"""One requirement model for every client (the judge, the five stages, the JD–CV checks, the requirement head):
plain Python, no dspy / torch / litellm.

- `read_jd(text)` / `read_statement(stmt)`: typed requirements (`Req`) with spans and levels.
- `read_cv(text)`: a `Profile` (dated roles, years, degree, certifications, languages, skills).
- `verify(req, cv)`: a `Verdict` (met / unmet / unclear, the deciding span, one line why); `locate(quote, text)`
  finds an LLM's quote in the text it claims to come from; `roles_for(req, profile)` the dated roles a years
  requirement counts and `carried_share(req, text)` the share of its content terms a text carries (the requirement
  head's graded features).
- `load_lexicon()`: the lexicon `prompts/requirements/lexicon.yaml`, with its content hash.
"""

from .cv import dated_roles, merged_years, read_cv
from .jd import (block_level_at, is_posting, language_of, musts, posting_cues, read_jd, read_statement, statements,
                 years_statements)
from .lexicon import Lexicon, load_lexicon
from .model import CODE_DECIDED, KINDS, Profile, Req, Role, Verdict
from .verify import (carried_share, content_on, find_in_cv, locate, negated_in, roles_for, sentence_around,
                     terms_with_compounds, verify, verify_passage)

__all__ = ["CODE_DECIDED", "KINDS", "Lexicon", "Profile", "Req", "Role", "Verdict", "block_level_at", "carried_share",
           "content_on", "dated_roles", "find_in_cv", "is_posting", "language_of", "load_lexicon", "locate",
           "merged_years", "musts", "negated_in", "posting_cues", "read_cv", "read_jd", "read_statement", "roles_for",
           "sentence_around", "statements", "terms_with_compounds", "verify", "verify_passage", "years_statements"]
