"""What authors write and the engine reads: articles (Markdown + front matter), chunks, the glossary, the
out-of-scope file, learned questions, canned replies and text folding. Imports no other wing."""
