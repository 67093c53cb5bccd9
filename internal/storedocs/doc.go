// Package storedocs holds a test, and nothing else: the package
// documentation of each store (memstore, sqlitestore, pgstore) names
// exactly the store interfaces of the domain packages that its Store type
// implements, so the docs cannot drift from the code again.
package storedocs
