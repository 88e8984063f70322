; Ours, added to the grammar's own tags.scm: top-level constants and classes' fields people look up by name.

(program
  (lexical_declaration
    (variable_declarator
      name: (identifier) @name
      value: [(number) (string) (template_string) (object) (array) (call_expression) (new_expression) (identifier) (member_expression) (binary_expression)]) @definition.constant))

(program
  (export_statement
    declaration: (lexical_declaration
      (variable_declarator
        name: (identifier) @name
        value: [(number) (string) (template_string) (object) (array) (call_expression) (new_expression) (identifier) (member_expression) (binary_expression)]) @definition.constant)))

(import_specifier name: (identifier) @name) @reference.import

(jsx_opening_element name: (identifier) @name) @reference.class
(jsx_self_closing_element name: (identifier) @name) @reference.class
