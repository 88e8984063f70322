; CSS has no tags query of its own: selectors by class and id, keyframes and custom properties.
(rule_set (selectors (class_selector (class_name) @name))) @definition.class
(rule_set (selectors (id_selector (id_name) @name))) @definition.id
(keyframes_statement (keyframes_name) @name) @definition.keyframes
(declaration
  (property_name) @name
  (#match? @name "^--")) @definition.variable
