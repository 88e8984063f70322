package billing

import "fmt"

const MaxItems = 100

var registry = map[string]Invoice{}

// Invoice is a bill.
type Invoice struct {
	Items []Item
}

type Totaler interface {
	Total() int
}

// Total sums the items.
func (i Invoice) Total() int {
	sum := 0
	for _, item := range i.Items {
		sum += item.Price()
	}
	return sum
}

func Describe(i Invoice) string {
	return fmt.Sprintf("%d", i.Total())
}
