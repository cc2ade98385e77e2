// Package sample exists so that its tests have a package to test.
package sample
