package synthetic

import (
	"container/heap"
	"fmt"
	"math"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
)

// Population switches the generator to population mode: raw event streams
// of a finite set of cards and devices, in event-time order, with no
// upstream aggregates. Velocity (how often a card paid in the last hour, how
// many cards a device used) then exists only in the stream itself, for a
// consumer such as scorer/velocity to compute, as fraudscore does when an
// upstream system sends raw events.
//
// Cards start payments at Population.DailyPayments a day on average.
// Each card has a home country (and its currency), an account age and zero
// to two usual devices drawn from the device population, so a device is
// shared by a few cards (a household). One device in 2000 (at least
// one) belongs to a fraud farm and is used only by fraud, across many cards.
// Legitimate payments follow a daily rhythm (most between 07:00 and 22:59
// UTC), a tenth of the cards are heavy users, a payment is sometimes
// followed by another on the same card within the hour (a shopping trip), and
// now and then a card starts using a device of its own (a new phone).
//
// Fraud comes in episodes that start uniformly around the clock, each on a
// victim card of the population, labelled per transaction:
//   - CardTesting: a burst of 3 to 15 small card-not-present payments within
//     minutes, from a farm device, another card's device or none;
//   - AccountTakeover: 1 to 3 high card-not-present payments within the hour
//     on an established card (account at least 200 days old) from a device
//     the card never used (a farm's or another card's);
//   - StolenCardAbroad: 1 to 4 card-present or ATM payments abroad within a
//     couple of hours, without a device;
//   - HighRiskMerchant: 1 to 4 cash-outs at high-risk merchants, preferably
//     on a young account, often from a farm device;
//   - FirstPartyFraud: one payment like any other, disputed later.
//
// Episodes are drawn with weights 10/25/25/22/18 (card testing is rare as an
// episode but long); Config.FraudRate is the fraction of transactions, as in
// the default mode. Events of an episode or shopping trip wait in a small
// queue until their time comes, so the output is in event-time order.
type Population struct {
	// Cards is the number of cards (default 20 000).
	Cards int
	// Devices is the number of devices, fraud farms included (default
	// Cards).
	Devices int
	// DailyPayments is the mean number of payments a card starts per day
	// (default 3; shopping-trip follow-ups add about an eighth): the
	// simulated clock runs so that the population pays at that rate, however
	// many cards it has.
	DailyPayments float64
}

// Defaults of Population's zero fields.
const (
	DefaultPopulationCards = 20_000
	DefaultDailyPayments   = 3
)

var populationWeights = [...]float64{0.10, 0.25, 0.25, 0.22, 0.18}

// populationEpisodeLen is the mean number of transactions of each fraud
// scenario's episode, in FraudScenarios order (see the draws in episode).
var populationEpisodeLen = [...]float64{9, 2, 2.5, 2.5, 1}

const (
	// legitFollowUp is the probability that a legitimate payment is followed
	// by another on the same card within the hour.
	legitFollowUp = 0.12
	// newOwnDevice is the probability that a legitimate payment with a
	// device is made from a device the card never used before (a new phone).
	newOwnDevice = 0.02
	// ageEstablished is the account age from which account takeover picks a
	// victim; ageYoung is the age below which high-risk cash-outs prefer one.
	ageEstablished, ageYoung = 200, 60
)

type card struct {
	token   string
	home    string
	ageDays int32 // at Config.Start
	devices []int // usual devices (indices into population.devices), first = primary
}

type population struct {
	cards   []card
	devices []string // the last farm of them are fraud farms
	farm    int
	// pEpisode is the probability that a regular step starts a fraud
	// episode, at an hour of rhythm 1.
	pEpisode float64
	// gap is the mean time between regular steps at an hour of rhythm 1.
	gap     time.Duration
	pending pendingQueue
	seq     uint64
	next    time.Time // time of the next regular step
}

// pendingEvent is a generated event waiting for its time.
type pendingEvent struct {
	ev  contracts.TransactionEvent
	lbl Label
	seq uint64
}

type pendingQueue []pendingEvent

func (q pendingQueue) Len() int { return len(q) }
func (q pendingQueue) Less(i, j int) bool {
	if !q[i].ev.EventTime.Equal(q[j].ev.EventTime) {
		return q[i].ev.EventTime.Before(q[j].ev.EventTime)
	}
	return q[i].seq < q[j].seq
}
func (q pendingQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pendingQueue) Push(x any)   { *q = append(*q, x.(pendingEvent)) }
func (q *pendingQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// newPopulation draws the cards and devices of cfg.Population.
func (g *Generator) newPopulation() *population {
	pc := *g.cfg.Population
	if pc.Cards <= 0 {
		pc.Cards = DefaultPopulationCards
	}
	if pc.Devices <= 0 {
		pc.Devices = pc.Cards
	}
	if pc.DailyPayments <= 0 {
		pc.DailyPayments = DefaultDailyPayments
	}
	g.cfg.Population = &pc
	r := g.rng
	p := &population{cards: make([]card, pc.Cards), devices: make([]string, pc.Devices)}
	if pc.Devices >= 2 {
		p.farm = max(1, pc.Devices/2000)
	}
	for i := range p.devices {
		p.devices[i] = fmt.Sprintf("%sdev-%d", g.cfg.IDPrefix, i)
	}
	legitDevices := pc.Devices - p.farm
	for i := range p.cards {
		c := &p.cards[i]
		c.token = fmt.Sprintf("%scard-%d", g.cfg.IDPrefix, i)
		c.home = homeCountries[r.IntN(len(homeCountries))]
		c.ageDays = int32(math.Min(36000, r.ExpFloat64()*900))
		n := 1
		switch x := r.Float64(); {
		case x < 0.1:
			n = 0
		case x > 0.7:
			n = 2
		}
		for range n {
			c.devices = append(c.devices, r.IntN(legitDevices))
		}
	}
	// FraudRate is a fraction of transactions: an episode has mean length
	// E, a regular legitimate step L = 1/(1-legitFollowUp) transactions, so
	// p*E / (p*E + (1-p)*L) = FraudRate.
	e := 0.0
	for i, w := range populationWeights {
		e += w * populationEpisodeLen[i]
	}
	l := 1 / (1 - legitFollowUp)
	rate := g.cfg.FraudRate
	p.pEpisode = rate * l / (e*(1-rate) + rate*l)
	p.gap = time.Duration(float64(24*time.Hour) / (pc.DailyPayments * float64(pc.Cards)))
	p.next = g.cfg.Start
	return p
}

// rhythm is the relative rate of legitimate payments at an hour of the day
// (UTC): its mean over the day is 1.
func rhythm(hour int) float64 {
	if hour >= 7 && hour <= 22 {
		return 1.4
	}
	return 0.2
}

// nextPopulation returns the next transaction of population mode.
func (g *Generator) nextPopulation() (contracts.TransactionEvent, Label) {
	p := g.pop
	for p.pending.Len() == 0 || p.pending[0].ev.EventTime.After(p.next) {
		g.regularStep()
	}
	pe := heap.Pop(&p.pending).(pendingEvent)
	g.n++
	pe.ev.TransactionID = fmt.Sprintf("%s%d", g.cfg.IDPrefix, g.n)
	return pe.ev, pe.lbl
}

func (g *Generator) schedule(ev contracts.TransactionEvent, lbl Label) {
	p := g.pop
	p.seq++
	heap.Push(&p.pending, pendingEvent{ev: ev, lbl: lbl, seq: p.seq})
}

// regularStep schedules what happens at p.next (a legitimate payment, or the
// start of a fraud episode) and draws the time of the following step.
func (g *Generator) regularStep() {
	p, r := g.pop, g.rng
	t := p.next
	rh := rhythm(t.UTC().Hour())
	// Episodes start uniformly in time: regular steps come rh times as often
	// at this hour, so each is rh times less likely to start one.
	if r.Float64() < p.pEpisode/rh {
		g.episode(t, drawPopulationScenario(r.Float64()))
	} else {
		g.legitPayment(t, g.activeCard(), -1, Label{Scenario: Legit})
	}
	p.next = t.Add(time.Duration(r.ExpFloat64() * float64(p.gap) / rh))
}

func drawPopulationScenario(x float64) Scenario {
	for i, w := range populationWeights {
		if x < w {
			return FraudScenarios[i]
		}
		x -= w
	}
	return FraudScenarios[len(FraudScenarios)-1]
}

// activeCard picks a card for a legitimate payment: 30% of payments come
// from the first tenth of the cards (heavy users), the rest from any card.
func (g *Generator) activeCard() int {
	n := len(g.pop.cards)
	if heavy := n / 10; heavy > 0 && g.rng.Float64() < 0.3 {
		return g.rng.IntN(heavy)
	}
	return g.rng.IntN(n)
}

// baseEvent is an event of card ci at t with the card's own fields.
func (g *Generator) baseEvent(t time.Time, ci int) contracts.TransactionEvent {
	c := &g.pop.cards[ci]
	age := c.ageDays + int32(t.Sub(g.cfg.Start)/(24*time.Hour))
	return contracts.TransactionEvent{
		SchemaVersion:   contracts.TransactionEventSchemaV1,
		EventTime:       t.UTC(),
		CardToken:       c.token,
		CardCountry:     c.home,
		MerchantCountry: c.home,
		IPCountry:       c.home,
		Currency:        currencyOf(c.home),
		MerchantID:      fmt.Sprintf("m_%06d", g.rng.IntN(200_000)),
		AccountAgeDays:  min(36000, age),
	}
}

// legitPayment schedules a legitimate-looking payment of card ci at t (with
// device dev, or the card's own choice when dev < 0) and, sometimes, a
// follow-up on the same card.
func (g *Generator) legitPayment(t time.Time, ci, dev int, lbl Label) {
	p, r := g.pop, g.rng
	c := &p.cards[ci]
	ev := g.baseEvent(t, ci)
	g.legit(&ev)
	if dev < 0 && len(c.devices) > 0 && r.Float64() < 0.85 {
		dev = c.devices[0]
		if len(c.devices) > 1 && r.Float64() < 0.25 {
			dev = c.devices[1+r.IntN(len(c.devices)-1)]
		}
		if r.Float64() < newOwnDevice {
			// A new phone: it becomes the card's primary device.
			dev = r.IntN(len(p.devices) - p.farm)
			c.devices = append([]int{dev}, c.devices[:min(len(c.devices), 2)]...)
		}
	}
	if dev >= 0 {
		ev.DeviceID = p.devices[dev]
	}
	g.finish(&ev)
	g.schedule(ev, lbl)
	if lbl.Scenario == Legit && r.Float64() < legitFollowUp {
		next := t.Add(time.Minute + time.Duration(r.ExpFloat64()*20*float64(time.Minute)))
		g.legitPayment(next, ci, dev, lbl)
	}
}

func (g *Generator) finish(ev *contracts.TransactionEvent) {
	if ev.AmountMinor < 1 {
		ev.AmountMinor = 1
	}
}

// farmDevice is one of the fraud farms' devices, or -1 when there are none.
func (g *Generator) farmDevice() int {
	p := g.pop
	if p.farm == 0 {
		return -1
	}
	return len(p.devices) - p.farm + g.rng.IntN(p.farm)
}

// strangerDevice is a legitimate device that card ci does not use (another
// card's, bought or stolen), or -1 when there is none.
func (g *Generator) strangerDevice(ci int) int {
	p := g.pop
	n := len(p.devices) - p.farm
	for range 8 {
		d := g.rng.IntN(n)
		mine := false
		for _, own := range p.cards[ci].devices {
			mine = mine || own == d
		}
		if !mine {
			return d
		}
	}
	return -1
}

// victim picks a card: one whose account age at t satisfies ok, if a few
// tries find one, else any.
func (g *Generator) victim(t time.Time, ok func(ageDays int32) bool) int {
	p := g.pop
	ci := g.rng.IntN(len(p.cards))
	for range 20 {
		age := p.cards[ci].ageDays + int32(t.Sub(g.cfg.Start)/(24*time.Hour))
		if ok(age) {
			return ci
		}
		ci = g.rng.IntN(len(p.cards))
	}
	return ci
}

// episode schedules the transactions of one fraud episode starting at t.
func (g *Generator) episode(t time.Time, s Scenario) {
	p, r := g.pop, g.rng
	lbl := Label{Fraud: true, Scenario: s}
	gap := func(mean time.Duration) time.Duration { return time.Duration(r.ExpFloat64() * float64(mean)) }
	switch s {
	case FirstPartyFraud:
		g.legitPayment(t, g.victim(t, func(int32) bool { return true }), -1, lbl)
	case CardTesting:
		ci := g.victim(t, func(int32) bool { return true })
		dev := -1
		switch x := r.Float64(); {
		case x < 0.6:
			dev = g.farmDevice()
		case x < 0.75:
			dev = g.strangerDevice(ci)
		}
		ip := p.cards[ci].home
		if r.Float64() < 0.5 {
			ip = pick(r, riskCountries[:])
		}
		n := 3 + r.IntN(13)
		for range n {
			ev := g.baseEvent(t, ci)
			ev.Channel = contracts.ChannelECommerce
			ev.MCC = pick(r, digitalMCCs[:])
			if r.Float64() < 0.5 {
				ev.MCC = pick(r, lowMCCs[:])
			}
			ev.AmountMinor = 50 + int64(r.IntN(450))
			if r.Float64() < 0.3 {
				ev.AmountMinor = int64(math.Exp(r.NormFloat64()*0.8 + 7.5))
			}
			ev.IPCountry = ip
			if dev >= 0 {
				ev.DeviceID = p.devices[dev]
			}
			g.finish(&ev)
			g.schedule(ev, lbl)
			t = t.Add(5*time.Second + gap(40*time.Second))
		}
	case AccountTakeover:
		ci := g.victim(t, func(age int32) bool { return age >= ageEstablished })
		dev := g.farmDevice()
		if r.Float64() < 0.5 || dev < 0 {
			dev = g.strangerDevice(ci)
		}
		home := p.cards[ci].home
		ip := pick(r, riskCountries[:])
		switch x := r.Float64(); {
		case x < 0.3:
			ip = pick(r, travelCntries[:])
		case x < 0.55:
			ip = home // residential proxy in the victim's country
		}
		n := 1 + r.IntN(3)
		for range n {
			ev := g.baseEvent(t, ci)
			ev.Channel = contracts.ChannelECommerce
			ev.MCC = pick(r, medMCCs[:])
			ev.AmountMinor = 30_000 + int64(r.ExpFloat64()*120_000)
			ev.IPCountry = ip
			if dev >= 0 {
				ev.DeviceID = p.devices[dev]
			}
			g.finish(&ev)
			g.schedule(ev, lbl)
			t = t.Add(time.Minute + gap(10*time.Minute))
		}
	case StolenCardAbroad:
		ci := g.victim(t, func(int32) bool { return true })
		country := pick(r, riskCountries[:])
		if r.Float64() < 0.35 {
			country = pick(r, travelCntries[:])
		}
		n := 1 + r.IntN(4)
		for range n {
			ev := g.baseEvent(t, ci)
			ev.Channel = contracts.ChannelCardPresent
			if r.Float64() < 0.4 {
				ev.Channel = contracts.ChannelATM
				ev.MCC = "6011"
			} else {
				ev.MCC = pick(r, append(medMCCs[:4:4], lowMCCs[:3]...))
			}
			ev.MerchantCountry = country
			ev.IPCountry = ""
			ev.AmountMinor = 8_000 + int64(r.ExpFloat64()*60_000)
			g.finish(&ev)
			g.schedule(ev, lbl)
			t = t.Add(2*time.Minute + gap(25*time.Minute))
		}
	case HighRiskMerchant:
		ci := g.victim(t, func(age int32) bool { return age < ageYoung })
		dev := -1
		switch x := r.Float64(); {
		case x < 0.5:
			dev = g.farmDevice()
		case x < 0.8 && len(p.cards[ci].devices) > 0:
			dev = p.cards[ci].devices[0]
		}
		ip := p.cards[ci].home
		if r.Float64() < 0.5 {
			ip = pick(r, riskCountries[:])
		}
		n := 1 + r.IntN(4)
		for range n {
			ev := g.baseEvent(t, ci)
			ev.Channel = contracts.ChannelECommerce
			ev.MCC = pick(r, highMCCs[:])
			ev.AmountMinor = 10_000 + int64(r.ExpFloat64()*90_000)
			ev.IPCountry = ip
			if dev >= 0 {
				ev.DeviceID = p.devices[dev]
			}
			g.finish(&ev)
			g.schedule(ev, lbl)
			t = t.Add(time.Minute + gap(15*time.Minute))
		}
	}
}
