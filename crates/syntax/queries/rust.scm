; Ours, added to the grammar's tags.scm: constants, statics, and types and paths used by name.
(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant
(call_expression function: (scoped_identifier name: (identifier) @name)) @reference.call
(struct_expression name: (type_identifier) @name) @reference.class
(use_declaration argument: (scoped_identifier name: (identifier) @name)) @reference.import
(use_list (identifier) @name) @reference.import
(type_arguments (type_identifier) @name) @reference.type
(parameter type: (type_identifier) @name) @reference.type
(field_declaration type: (type_identifier) @name) @reference.type
