; Ours, added to the grammar's tags.scm: imported names and base classes are references.
(import_from_statement name: (dotted_name (identifier) @name)) @reference.import
(import_from_statement name: (aliased_import name: (dotted_name (identifier) @name))) @reference.import
(class_definition superclasses: (argument_list (identifier) @name)) @reference.class
(decorator (identifier) @name) @reference.call
