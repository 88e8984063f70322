; JSON has no tags query of its own: the top-level keys (a package.json's "scripts", "dependencies").
(document (object (pair key: (string (string_content) @name)) @definition.key))
