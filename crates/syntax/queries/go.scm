; Ours, added to the grammar's tags.scm: constants and package-level variables are definitions.
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))
