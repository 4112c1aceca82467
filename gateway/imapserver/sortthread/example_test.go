package sortthread_test

import (
	"fmt"
	"time"

	"github.com/sealgate/sealgate/gateway/imapserver/sortthread"
)

// exampleMailbox is three messages as a store would hand them over: numbers, internal date
// and size from the store, everything else from the raw header.
func exampleMailbox() []sortthread.Message {
	headers := []string{
		"Message-ID: <1@example.org>\r\nSubject: Lunch?\r\nFrom: Carol <carol@example.org>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n",
		"Message-ID: <2@example.org>\r\nSubject: Build broken\r\nFrom: alice@example.org\r\nDate: Mon, 1 Jan 2024 11:00:00 +0000\r\n\r\n",
		"Message-ID: <3@example.org>\r\nIn-Reply-To: <1@example.org>\r\nSubject: Re: Lunch?\r\nFrom: Bob <bob@example.org>\r\nDate: Mon, 1 Jan 2024 12:00:00 +0000\r\n\r\n",
	}
	msgs := make([]sortthread.Message, len(headers))
	for i, h := range headers {
		msgs[i] = sortthread.Message{
			Seq:          uint32(i + 1),
			UID:          uint32(101 + i),
			InternalDate: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
			Size:         int64(len(h) + 100*(3-i)),
		}
		msgs[i].ParseHeader([]byte(h))
	}
	return msgs
}

func ExampleSort() {
	msgs := exampleMailbox()
	// "SORT (REVERSE DATE) UTF-8 ALL", the criteria list as the command parser hands it over.
	crit, err := sortthread.ParseCriteria([]string{"REVERSE", "DATE"})
	if err != nil {
		fmt.Println("BAD", err)
		return
	}
	fmt.Println(sortthread.Sort(msgs, crit, sortthread.NumSeq))
	// "UID SORT (DISPLAYFROM) UTF-8 ALL"
	crit, _ = sortthread.ParseCriteria([]string{"DISPLAYFROM"})
	uids := sortthread.Sort(msgs, crit, sortthread.NumUID)
	fmt.Println(uids)
	// "UID SORT RETURN (MIN COUNT) (DISPLAYFROM) UTF-8 ALL" answers with ESEARCH.
	ret, _ := sortthread.ParseReturn([]string{"MIN", "COUNT"})
	fmt.Printf("* ESEARCH (TAG \"A1\") UID%s\n", ret.AppendData(nil, uids))
	// Output:
	// [3 2 1]
	// [102 103 101]
	// * ESEARCH (TAG "A1") UID MIN 102 COUNT 3
}

func ExampleThreads() {
	msgs := exampleMailbox()
	alg, err := sortthread.ParseAlgorithm("REFERENCES")
	if err != nil {
		fmt.Println("BAD", err)
		return
	}
	threads := sortthread.Threads(msgs, alg)
	fmt.Printf("%s\n", sortthread.AppendThreads([]byte("* THREAD "), threads, sortthread.NumSeq))
	fmt.Printf("%s\n", sortthread.AppendThreads([]byte("* THREAD "), threads, sortthread.NumUID))
	// Output:
	// * THREAD (1 3)(2)
	// * THREAD (101 103)(102)
}
