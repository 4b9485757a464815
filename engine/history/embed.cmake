# Writes the text of INPUT to OUTPUT as a C++ raw string literal.
file(READ ${INPUT} text)
file(WRITE ${OUTPUT} "R\"promote_embedded(${text})promote_embedded\"\n")
