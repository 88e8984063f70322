; TypeScript and TSX: the JavaScript patterns that hold for both grammars, the grammar's TypeScript
; tags.scm, and ours for types, enums and constants.

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(class_declaration name: (type_identifier) @name) @definition.class
(method_definition
  name: (property_identifier) @name
  (#not-eq? @name "constructor")) @definition.method
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum

(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression)]) @definition.function)

(program
  (lexical_declaration
    (variable_declarator
      name: (identifier) @name
      value: [(number) (string) (template_string) (object) (array) (call_expression) (new_expression) (identifier) (member_expression) (binary_expression) (as_expression)]) @definition.constant))

(program
  (export_statement
    declaration: (lexical_declaration
      (variable_declarator
        name: (identifier) @name
        value: [(number) (string) (template_string) (object) (array) (call_expression) (new_expression) (identifier) (member_expression) (binary_expression) (as_expression)]) @definition.constant)))

(call_expression function: (identifier) @name) @reference.call
(call_expression
  function: (member_expression property: (property_identifier) @name)) @reference.call
(import_specifier name: (identifier) @name) @reference.import
(type_annotation (type_identifier) @name) @reference.type
(type_arguments (type_identifier) @name) @reference.type
(extends_clause value: (identifier) @name) @reference.class
(implements_clause (type_identifier) @name) @reference.implementation
