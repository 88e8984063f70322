; HTML has no tags query of its own: element ids are what scripts and styles refer to.
; (tree-sitter-tags accepts only its own capture names: `@local.reference` is the one it leaves alone,
; so it serves as the attribute name the predicates test.)
(attribute
  (attribute_name) @local.reference
  (quoted_attribute_value (attribute_value) @name)
  (#eq? @local.reference "id")) @definition.id
(script_element
  (start_tag
    (attribute
      (attribute_name) @local.reference
      (quoted_attribute_value (attribute_value) @name)
      (#eq? @local.reference "src")))) @reference.import
